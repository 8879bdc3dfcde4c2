"""Registering data as immutable, content-addressed dataset versions.

One pass over the input writes the Parquet file that will be stored, computes the content
hash (:mod:`mlsteward.data._hashing`) and keeps a sample for type inference; nothing is
written to the store until the data has been read and validated completely, and the
version row, its lineage edges and the audit event commit in one transaction. (An
interrupted registration may leave an unreferenced content-addressed blob in the artifact
store; it is never visible as a version.)
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.exc import IntegrityError

from mlsteward.core import InvalidInput, new_id, utcnow, validate_name
from mlsteward.data._hashing import HASH_METHOD, TableHasher
from mlsteward.data._io import TableSource, open_source
from mlsteward.data._profile import profile_dataset
from mlsteward.data._records import ColumnSchema, DatasetVersion
from mlsteward.data._types import infer_column_types, validate_column_types
from mlsteward.data._versions import _project_row, resolve_in, to_record
from mlsteward.store import Store, Transaction, canonical_json
from mlsteward.store.metadata import DatasetLineageRow, DatasetVersionRow, SqlDatasetRepository

__all__ = [
    "INFERENCE_SAMPLE_ROWS",
    "DatasetAlreadyRegistered",
    "ParentLink",
    "PendingVersion",
    "Registration",
    "insert",
    "prepare",
    "register",
    "register_dataset",
]

INFERENCE_SAMPLE_ROWS: Final = 500_000
"""Logical types are inferred from the first rows (the same for every kind of input)."""

_TEXT_LIMITS: Final = {"source": 10_000, "license": 200, "consent": 10_000}


class DatasetAlreadyRegistered(UserWarning):
    """The data was registered before; the metadata given now differs and was not applied."""


@dataclass(frozen=True)
class ParentLink:
    """A lineage edge to record from ``parent`` to the version being registered."""

    parent: DatasetVersion | str
    method: str = "derived"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Registration:
    """What :func:`register` did: the version, whether it is new, and what was ignored."""

    version: DatasetVersion
    created: bool
    notes: tuple[str, ...] = ()


@dataclass
class _Written:
    path: Path
    hash: str
    rows: int
    schema: pa.Schema
    sample: pa.Table


def _write(source: TableSource, directory: Path) -> _Written:
    path = directory / "data.parquet"
    hasher = TableHasher(list(source.schema.names))
    sample_batches: list[pa.RecordBatch] = []
    sampled = 0
    with pq.ParquetWriter(path, source.schema, compression="zstd") as writer:
        for batch in source.batches:
            if batch.num_rows == 0:
                continue
            hasher.update(batch)
            writer.write_batch(batch)
            if sampled < INFERENCE_SAMPLE_ROWS:
                take = batch.slice(0, INFERENCE_SAMPLE_ROWS - sampled)
                sample_batches.append(take)
                sampled += take.num_rows
    if hasher.rows == 0:
        raise InvalidInput(
            f"{source.description} has no rows; expected at least one row of data "
            f"(columns: {', '.join(source.schema.names[:20])})."
        )
    sample = pa.Table.from_batches(sample_batches, schema=source.schema)
    return _Written(path, hasher.hexdigest(), hasher.rows, source.schema, sample)


def _check_text(field_name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field_name} must be text, got {type(value).__name__}.")
    limit = _TEXT_LIMITS[field_name]
    if len(value) > limit:
        raise InvalidInput(
            f"{field_name} is {len(value)} characters long; the limit is {limit}. Shorten it."
        )
    return value.strip() or None


def _check_column(kind: str, column: str | None, columns: list[str]) -> str | None:
    if column is None:
        return None
    if column not in columns:
        raise InvalidInput(
            f"The {kind} {column!r} is not a column of the data; expected one of: "
            f"{', '.join(columns[:40])}."
        )
    return column


def _profile(path: Path, column_types: dict[str, str]) -> bytes:
    """The profile document (mergeable column summaries) of the data file, streamed."""
    profile = profile_dataset(path, column_types=column_types)
    return canonical_json(profile.to_dict()).encode("utf-8")


def _explain(existing: DatasetVersion, given: Mapping[str, object]) -> tuple[str, ...]:
    notes = []
    for key, value in given.items():
        if value is None:
            continue
        stored = getattr(existing, key)
        if key == "column_types":
            assert isinstance(value, Mapping)
            stored_types = existing.column_types
            differing = {c: t for c, t in value.items() if stored_types.get(c) != t}
            if differing:
                notes.append(
                    f"column types {differing} differ from the recorded "
                    f"{ {c: stored_types.get(c) for c in differing} }"
                )
            continue
        if key == "parents":
            assert isinstance(value, tuple)
            missing = [p for p in value if p not in existing.parents]
            if missing:
                notes.append(
                    f"parents {missing} are not recorded (recorded: {list(existing.parents)})"
                )
            continue
        if stored != value:
            notes.append(f"{key} {value!r} differs from the recorded {stored!r}")
    if not notes:
        return ()
    return (
        f"Dataset {existing.project}/{existing.short_ref} is already registered with the same "
        f"content; versions are immutable, so the new metadata was not applied: "
        + "; ".join(notes)
        + ". To record the data with other metadata, register it under another name.",
    )


@dataclass
class PendingVersion:
    """A version whose data is stored in the artifact store but not yet in the metadata
    (see :func:`prepare`); ``existing`` is set when the content is already registered."""

    project: str
    name: str
    version: str
    rows: int
    schema: list[dict[str, str]]
    artifact_digest: str
    artifact_size: int
    profile_digest: str | None
    metadata: dict[str, str | None]
    links: list[ParentLink]
    parents: list[DatasetVersion]
    existing: DatasetVersion | None = None
    notes: tuple[str, ...] = ()


def prepare(
    store: Store,
    project: str,
    name: str,
    data: object,
    *,
    role: str | None = None,
    source: str | None = None,
    license: str | None = None,
    consent: str | None = None,
    time_column: str | None = None,
    target: str | None = None,
    parents: Sequence[DatasetVersion | str | ParentLink] | None = None,
    column_types: Mapping[str, str] | None = None,
) -> PendingVersion:
    """Validate and read ``data`` completely, store its Parquet file and profile as
    content-addressed artifacts, and return what :func:`insert` records. Any error in the
    input is raised here, before the metadata is touched."""
    validate_name("dataset", name)
    if role is not None:
        validate_name("role", role)
    source = _check_text("source", source)
    license = _check_text("license", license)
    consent = _check_text("consent", consent)
    links = [p if isinstance(p, ParentLink) else ParentLink(p) for p in parents or ()]
    with store.reader() as session:
        _project_row(session, project)  # fail fast on an unknown project
        parent_versions = [resolve_in(session, project, link.parent) for link in links]
    opened = open_source(data)
    with tempfile.TemporaryDirectory(prefix="steward-register-") as tmp:
        written = _write(opened, Path(tmp))
        columns = list(written.schema.names)
        time_column = _check_column("time column", time_column, columns)
        target = _check_column("target", target, columns)
        types = infer_column_types(
            written.sample,
            overrides=validate_column_types(column_types or {}, columns),
        )
        metadata = {
            "role": role,
            "source": source,
            "license": license,
            "consent": consent,
            "time_column": time_column,
            "target": target,
        }
        schema = [
            ColumnSchema(f.name, types[f.name], str(f.type)).to_dict() for f in written.schema
        ]
        pending = PendingVersion(
            project=project,
            name=name,
            version=written.hash,
            rows=written.rows,
            schema=schema,
            artifact_digest="",
            artifact_size=written.path.stat().st_size,
            profile_digest=None,
            metadata=metadata,
            links=links,
            parents=parent_versions,
        )
        with store.reader() as session:
            project_row = _project_row(session, project)
            existing = SqlDatasetRepository(session).find_version(
                project_row.id, name, written.hash
            )
            if existing is not None:
                record = to_record(session, existing, project)
                given = {
                    **metadata,
                    "column_types": dict(column_types) if column_types else None,
                    "parents": tuple(p.ref for p in parent_versions) or None,
                }
                pending.existing = record
                pending.notes = _explain(record, given)
                return pending
        profile = _profile(written.path, types)
        pending.artifact_digest = store.artifacts.put_file(written.path)
        pending.profile_digest = store.artifacts.put(profile)
    return pending


def _edge(parent: DatasetVersion, child_id: str, link: ParentLink, actor: str) -> DatasetLineageRow:
    return DatasetLineageRow(
        id=new_id(),
        parent_id=parent.id,
        child_id=child_id,
        method=link.method,
        params_json=canonical_json(dict(link.params)),
        created_at=utcnow(),
        created_by=actor,
    )


def insert(tx: Transaction, pending: PendingVersion) -> DatasetVersion:
    """Record a prepared version, its lineage edges and the audit event in ``tx``.

    For a version that already exists, only lineage edges it lacks are added (audited as
    ``dataset.link``); the version itself is never changed.
    """
    repo = SqlDatasetRepository(tx.session)
    actor = tx.store.actor
    if pending.existing is not None:
        added = [
            parent.ref
            for link, parent in zip(pending.links, pending.parents, strict=True)
            if repo.add_edge(_edge(parent, pending.existing.id, link, actor))
        ]
        row = repo.get_version(pending.existing.id)
        assert row is not None
        record = to_record(tx.session, row, pending.project)
        if added:
            tx.audit(
                "dataset.link",
                "dataset_version",
                f"{pending.project}/{record.ref}",
                {"parents": added},
            )
        return record
    project_row = _project_row(tx.session, pending.project)
    row = DatasetVersionRow(
        id=new_id(),
        project_id=project_row.id,
        name=pending.name,
        version=pending.version,
        hash_method=HASH_METHOD,
        schema_json=canonical_json(pending.schema),
        row_count=pending.rows,
        column_count=len(pending.schema),
        artifact_digest=pending.artifact_digest,
        artifact_size=pending.artifact_size,
        profile_digest=pending.profile_digest,
        created_at=utcnow(),
        created_by=actor,
        **pending.metadata,
    )
    repo.add_version(row)
    for link, parent in zip(pending.links, pending.parents, strict=True):
        repo.add_edge(_edge(parent, row.id, link, actor))
    record = to_record(tx.session, row, pending.project)
    tx.audit(
        "dataset.register", "dataset_version", f"{pending.project}/{record.ref}", record.to_dict()
    )
    return record


def register(
    store: Store,
    project: str,
    name: str,
    data: object,
    *,
    role: str | None = None,
    source: str | None = None,
    license: str | None = None,
    consent: str | None = None,
    time_column: str | None = None,
    target: str | None = None,
    parents: Sequence[DatasetVersion | str | ParentLink] | None = None,
    column_types: Mapping[str, str] | None = None,
) -> Registration:
    """Register ``data`` as a version of dataset ``name`` in ``project``.

    See :func:`register_dataset`; this variant also says whether the version is new and
    what of the given metadata was not applied to an existing version.
    """
    pending = prepare(
        store,
        project,
        name,
        data,
        role=role,
        source=source,
        license=license,
        consent=consent,
        time_column=time_column,
        target=target,
        parents=parents,
        column_types=column_types,
    )
    if pending.existing is not None:
        return Registration(pending.existing, False, pending.notes)
    try:
        with store.transaction() as tx:
            record = insert(tx, pending)
    except IntegrityError:
        # registered concurrently by another process: return that version
        with store.reader() as session:
            project_row = _project_row(session, project)
            found = SqlDatasetRepository(session).find_version(
                project_row.id, name, pending.version
            )
            if found is None:
                raise
            return Registration(to_record(session, found, project), False)
    return Registration(record, True)


def register_dataset(
    store: Store,
    project: str,
    name: str,
    data: object,
    *,
    role: str | None = None,
    source: str | None = None,
    license: str | None = None,
    consent: str | None = None,
    time_column: str | None = None,
    target: str | None = None,
    parents: Sequence[DatasetVersion | str] | None = None,
    column_types: Mapping[str, str] | None = None,
) -> DatasetVersion:
    """Register ``data`` as an immutable version of dataset ``name`` in ``project``.

    ``data`` is a pandas or polars DataFrame, a pyarrow Table, or the path of a CSV or
    Parquet file (files are streamed, not loaded whole). The version is the content hash
    of the data (``docs/data.md`` says exactly what counts); registering the same content
    again returns the existing version without writing anything, and warns with
    :class:`DatasetAlreadyRegistered` when the metadata given now differs from the
    recorded one. ``column_types`` overrides inferred logical types; ``parents`` are
    versions (or references in the same project) this data was derived from.
    """
    outcome = register(
        store,
        project,
        name,
        data,
        role=role,
        source=source,
        license=license,
        consent=consent,
        time_column=time_column,
        target=target,
        parents=parents,
        column_types=column_types,
    )
    for note in outcome.notes:
        warnings.warn(note, DatasetAlreadyRegistered, stacklevel=2)
    return outcome.version
