"""Inputs of runs: the dataset versions a run used, each with its role."""

from __future__ import annotations

import re
from typing import Any

from mlsteward.core import InvalidInput, utcnow
from mlsteward.store import Store
from mlsteward.store.metadata import RunInputRow, SqlRunRepository
from mlsteward.tracking._records import RunInput

__all__ = ["check_role", "frame_fingerprint", "log_input", "matching_dataset"]

_ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def check_role(role: object) -> str:
    if not isinstance(role, str) or not _ROLE.match(role):
        raise InvalidInput(
            f"Invalid input role {role!r}: expected 1 to 63 lowercase letters, digits, '_' or "
            "'-', starting with a letter, e.g. 'training', 'validation' or 'test'."
        )
    return role


def log_input(store: Store, run_id: str, project: str, dataset: Any, role: str) -> RunInput:
    """Record that the run used ``dataset`` (a DatasetVersion or ``"name@version"``)."""
    from mlsteward.data import DatasetVersion, resolve_dataset

    check_role(role)
    if isinstance(dataset, str):
        version = resolve_dataset(store, project, dataset)
    elif isinstance(dataset, DatasetVersion):
        version = dataset
        if version.project != project:
            raise InvalidInput(
                f"Dataset {version.ref} belongs to project {version.project!r}, not to the "
                f"run's project {project!r}. Register the data in {project!r} (lineage stays "
                "within a project)."
            )
    else:
        raise InvalidInput(
            f"Cannot log a {type(dataset).__name__} as a run input: expected a DatasetVersion "
            "or a reference 'name@version' (see steward data list). To record a DataFrame "
            "that is not registered, register it first with mlsteward.data.register_dataset."
        )
    now = utcnow()
    with store.transaction() as tx:
        added = SqlRunRepository(tx.session).add_input(
            RunInputRow(run_id=run_id, dataset_version_id=version.id, role=role, created_at=now)
        )
        if added:
            tx.audit(
                "run.input",
                "run",
                run_id,
                {"dataset": version.ref, "dataset_version_id": version.id, "role": role},
            )
    return RunInput(run_id, version.id, version.name, version.version, role, now)


def frame_fingerprint(frame: Any) -> dict[str, Any] | None:
    """Shape, columns and content hash (the data stage's ``hash_table``) of a DataFrame,
    or None for data that is not a pandas DataFrame."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return None
    if not isinstance(frame, pd.DataFrame):
        return None
    import pyarrow as pa

    from mlsteward.data import hash_table

    try:
        digest = hash_table(pa.Table.from_pandas(frame, preserve_index=False))
    except Exception:  # a column Arrow cannot represent: shape and columns only
        digest = None
    return {
        "rows": int(frame.shape[0]),
        "columns": [str(c) for c in frame.columns],
        "hash": digest,
    }


def matching_dataset(store: Store, project: str, content_hash: str) -> Any:
    """The registered version of ``project`` with this content hash, if any."""
    from mlsteward.data import list_datasets

    for version in list_datasets(store, project):
        if version.version == content_hash:
            return version
    return None
