"""Finding dataset versions: ``NAME@VERSION`` references, listing, loading.

A reference is ``NAME@latest`` (the newest version of NAME), ``NAME@HASH`` with the full
64-digit content hash or a unique prefix of at least :data:`MIN_PREFIX` hex digits, or a
bare ``NAME`` (same as ``NAME@latest``).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlsteward.core import IntegrityViolation, InvalidInput, NotFound
from mlsteward.data._records import ComplianceTag, DatasetVersion
from mlsteward.store import Store
from mlsteward.store.metadata import (
    DatasetVersionRow,
    ProjectRow,
    SqlDatasetRepository,
    SqlProjectRepository,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MIN_PREFIX",
    "compliance_tags",
    "dataset_by_id",
    "list_datasets",
    "load_dataset",
    "load_table",
    "local_data_file",
    "parse_ref",
    "read_profile",
    "resolve_dataset",
    "resolve_in",
    "to_record",
]

MIN_PREFIX: Final = 8
_HEX: Final = re.compile(r"^[0-9a-f]+$")
LoadFormat = Literal["pandas", "arrow", "polars"]


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``NAME@SELECTOR`` into (name, selector); the selector is ``latest`` or hex.

    >>> parse_ref("acs-2015@latest")
    ('acs-2015', 'latest')
    >>> parse_ref("acs-2015@3F2A9C01D")
    ('acs-2015', '3f2a9c01d')
    >>> parse_ref("acs-2015")
    ('acs-2015', 'latest')
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(
            f"Invalid dataset reference {ref!r}: expected NAME@VERSION, NAME@latest or NAME."
        )
    name, sep, selector = ref.strip().partition("@")
    selector = selector.strip().lower() if sep else "latest"
    if not name:
        raise InvalidInput(
            f"Invalid dataset reference {ref!r}: the dataset name before '@' is missing; "
            "expected NAME@VERSION, e.g. acs-2015@latest."
        )
    if selector != "latest":
        if not _HEX.match(selector):
            raise InvalidInput(
                f"Invalid dataset reference {ref!r}: the version {selector!r} is not 'latest' "
                "nor a hexadecimal content hash; expected e.g. "
                f"{name}@latest or {name}@3f2a9c01."
            )
        if len(selector) < MIN_PREFIX:
            raise InvalidInput(
                f"Invalid dataset reference {ref!r}: a version prefix needs at least "
                f"{MIN_PREFIX} hex digits, got {len(selector)}. Give more of the hash "
                f"(steward data list shows them) or use {name}@latest."
            )
    return name, selector


def _project_row(session: Session, project: str) -> ProjectRow:
    found = SqlProjectRepository(session).get(project)  # NotFound with known projects
    row = session.get(ProjectRow, found.id)
    assert row is not None
    return row


def to_record(session: Session, row: DatasetVersionRow, project: str) -> DatasetVersion:
    """The record of a version row, with its parents' references."""
    repo = SqlDatasetRepository(session)
    parents = []
    for edge in repo.edges(child_id=row.id):
        parent = repo.get_version(edge.parent_id)
        if parent is not None:
            parents.append(f"{parent.name}@{parent.version}")
    return DatasetVersion.from_row(row, project, tuple(parents))


def resolve_in(session: Session, project: str, ref: str | DatasetVersion) -> DatasetVersion:
    """:func:`resolve_dataset` inside an open session."""
    if isinstance(ref, DatasetVersion):
        ref = ref.ref
    name, selector = parse_ref(ref)
    project_row = _project_row(session, project)
    repo = SqlDatasetRepository(session)
    prefix = None if selector == "latest" else selector
    rows = repo.versions(project_row.id, name, prefix=prefix)
    if not rows:
        names = sorted(
            set(
                session.execute(
                    select(DatasetVersionRow.name).where(
                        DatasetVersionRow.project_id == project_row.id
                    )
                ).scalars()
            )
        )
        if name not in names:
            known = f" Datasets in it: {', '.join(names[:20])}." if names else " It has none yet."
            raise NotFound(
                f"Dataset {name!r} does not exist in project {project!r}.{known} "
                f"Register it with: steward data register FILE --project {project} --name {name}"
            )
        recent = [r.version[:12] for r in repo.versions(project_row.id, name)[:5]]
        raise NotFound(
            f"Dataset {name!r} in project {project!r} has no version starting with "
            f"{selector!r}. Recent versions: {', '.join(recent)}. "
            f"List them with: steward data list --project {project} --name {name}"
        )
    if prefix is not None and len(rows) > 1 and not any(r.version == prefix for r in rows):
        candidates = ", ".join(r.version[:16] for r in rows[:10])
        raise InvalidInput(
            f"Dataset reference {ref!r} is ambiguous in project {project!r}: {len(rows)} "
            f"versions start with {prefix!r} ({candidates}). Give more hex digits."
        )
    row = next((r for r in rows if r.version == prefix), rows[0])
    return to_record(session, row, project)


def resolve_dataset(store: Store, project: str, ref: str | DatasetVersion) -> DatasetVersion:
    """The version that ``ref`` names in ``project``.

    Raises :class:`NotFound` (no such project, dataset or version; the message lists what
    exists) or :class:`InvalidInput` (malformed reference, prefix shorter than 8 digits,
    ambiguous prefix).
    """
    with store.reader() as session:
        return resolve_in(session, project, ref)


def dataset_by_id(store: Store, version_id: str) -> DatasetVersion:
    """The version with row id ``version_id`` (as other tables store it)."""
    with store.reader() as session:
        row = SqlDatasetRepository(session).get_version(version_id)
        if row is None:
            raise NotFound(f"No dataset version has the id {version_id!r}.")
        project = session.get(ProjectRow, row.project_id)
        assert project is not None
        return to_record(session, row, project.name)


def list_datasets(
    store: Store, project: str, name: str | None = None, *, role: str | None = None
) -> list[DatasetVersion]:
    """Versions in ``project`` (only of ``name``, only with ``role``), newest first."""
    with store.reader() as session:
        project_row = _project_row(session, project)
        rows = SqlDatasetRepository(session).versions(project_row.id, name)
        return [to_record(session, r, project) for r in rows if role is None or r.role == role]


def compliance_tags(store: Store, version: DatasetVersion) -> list[ComplianceTag]:
    """Compliance tags recorded on a version (e.g. by the personal-data check)."""
    with store.reader() as session:
        return [ComplianceTag.from_row(r) for r in SqlDatasetRepository(session).tags(version.id)]


def _verify_file(path: Path, digest: str, label: str) -> None:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    if "sha256:" + sha.hexdigest() != digest:
        raise IntegrityViolation(
            f"The data of {label} ({digest}) is corrupted: its content hashes to "
            f"sha256:{sha.hexdigest()}. Restore it from a backup of the artifact store."
        )


@contextmanager
def local_data_file(store: Store, version: DatasetVersion) -> Iterator[Path]:
    """A local, verified Parquet file with the data of ``version`` (for the duration)."""
    label = f"dataset {version.project}/{version.short_ref}"
    local_path = getattr(store.artifacts, "local_path", None)
    if getattr(store.artifacts, "is_local", False) and callable(local_path):
        path = local_path(store.artifacts._object_key(version.artifact_digest))
        if isinstance(path, Path) and path.is_file():
            _verify_file(path, version.artifact_digest, label)
            yield path
            return
    with tempfile.TemporaryDirectory(prefix="steward-data-") as tmp:
        target = Path(tmp) / "data.parquet"
        store.artifacts.get_to_file(version.artifact_digest, target, name=label)
        yield target


def _check_columns(version: DatasetVersion, columns: list[str] | None) -> None:
    if columns is None:
        return
    missing = [c for c in columns if c not in version.columns]
    if missing:
        raise InvalidInput(
            f"Dataset {version.short_ref} has no column(s) {', '.join(map(repr, missing))}; "
            f"its columns are: {', '.join(version.columns[:40])}."
        )


def load_table(store: Store, version: DatasetVersion, columns: list[str] | None = None) -> pa.Table:
    """The data of ``version`` as an Arrow table (only ``columns`` when given)."""
    import pyarrow.parquet as pq

    _check_columns(version, columns)
    with local_data_file(store, version) as path:
        return pq.read_table(path, columns=columns)


def load_dataset(
    store: Store,
    project: str,
    ref: str | DatasetVersion,
    *,
    columns: list[str] | None = None,
    format: LoadFormat = "pandas",
) -> pd.DataFrame | pa.Table | Any:
    """The data of a version as pandas (default), ``arrow`` or ``polars``."""
    version = ref if isinstance(ref, DatasetVersion) else resolve_dataset(store, project, ref)
    table = load_table(store, version, columns)
    if format == "arrow":
        return table
    if format == "pandas":
        return table.to_pandas()
    if format == "polars":
        import polars as pl

        return pl.from_arrow(table)
    raise InvalidInput(f"Unknown format {format!r}; expected 'pandas', 'arrow' or 'polars'.")


def read_profile(store: Store, version: DatasetVersion) -> dict[str, Any]:
    """The stored profile of ``version`` as the profiler's JSON document."""
    if version.profile_digest is None:
        raise NotFound(
            f"Dataset {version.project}/{version.short_ref} has no stored profile (it was "
            "registered while profiling was unavailable). Register it again after upgrading."
        )
    data = store.artifacts.get(
        version.profile_digest, name=f"profile of {version.project}/{version.short_ref}"
    )
    document: dict[str, Any] = json.loads(data)
    return document
