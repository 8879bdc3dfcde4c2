"""Runs and what they log (params, tags, metrics, artifacts, inputs): tables and repository.

Metric points are append-only (``metric_points``); ``latest_metrics`` keeps, per run and
key, the point with the highest step (ties: the latest timestamp), so that filters and
ordering on a metric read one indexed row per run. Timestamps of metric points are integer
milliseconds since the epoch (UTC): compact, and cheap to insert in bulk. A NaN value is
stored as NULL (SQLite cannot store NaN); readers turn NULL back into NaN.
"""

from __future__ import annotations

import abc
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.store.metadata._base import Base, UTCDateTime
from mlsteward.store.metadata._experiments import ExperimentRow

__all__ = [
    "LatestMetricRow",
    "MetricPointRow",
    "RunArtifactRow",
    "RunInputRow",
    "RunParamRow",
    "RunRepository",
    "RunRow",
    "RunTagRow",
    "SqlRunRepository",
]

# (run_id, key, value or None for NaN, step, timestamp in ms)
MetricTuple = tuple[str, str, float | None, int, int]


class RunRow(Base):
    """One run: status, times, parent, code version and environment.

    ``heartbeat_at`` is the last time the writer of a running run said its process was
    alive (NULL for runs written before revision 0009: their start time stands in).
    """

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    experiment_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("experiments.id"), nullable=False
    )
    parent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("runs.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    git_dirty: Mapped[bool | None] = mapped_column(Boolean(), nullable=True)
    source: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    python_version: Mapped[str] = mapped_column(String(50), nullable=False)
    platform: Mapped[str] = mapped_column(String(200), nullable=False)
    environment_digest: Mapped[str | None] = mapped_column(String(71), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_runs_project_start", "project_id", "start_time"),
        Index("ix_runs_experiment_start", "experiment_id", "start_time"),
        Index("ix_runs_parent_id", "parent_id"),
    )


class RunParamRow(Base):
    """A parameter of a run: immutable once written."""

    __tablename__ = "run_params"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), nullable=False)

    __table_args__ = (Index("ix_run_params_key_value", "key", "value"),)


class RunTagRow(Base):
    """A tag of a run: a mutable label."""

    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text(), nullable=False)

    __table_args__ = (Index("ix_run_tags_key", "key"),)


class MetricPointRow(Base):
    """One logged metric value (append-only history)."""

    __tablename__ = "metric_points"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(250), nullable=False)
    value: Mapped[float | None] = mapped_column(Double(), nullable=True)
    step: Mapped[int] = mapped_column(BigInteger(), nullable=False)
    timestamp: Mapped[int] = mapped_column(BigInteger(), nullable=False)

    __table_args__ = (Index("ix_metric_points_run_key_step", "run_id", "key", "step"),)


class LatestMetricRow(Base):
    """The latest point of each metric of each run, kept by the writer of points."""

    __tablename__ = "latest_metrics"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double(), nullable=True)
    step: Mapped[int] = mapped_column(BigInteger(), nullable=False)
    timestamp: Mapped[int] = mapped_column(BigInteger(), nullable=False)

    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value"),)


class RunArtifactRow(Base):
    """A content-addressed artifact recorded under a path name in a run."""

    __tablename__ = "run_artifacts"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    digest: Mapped[str] = mapped_column(String(71), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger(), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    meta_json: Mapped[str] = mapped_column(Text(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (Index("ix_run_artifacts_digest", "digest"),)


class RunInputRow(Base):
    """A dataset version a run used, with its role (training, validation, ...)."""

    __tablename__ = "run_inputs"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id"), primary_key=True)
    dataset_version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(63), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (Index("ix_run_inputs_dataset_version_id", "dataset_version_id"),)


def _nan_to_none(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


class RunRepository(abc.ABC):
    """Runs of one store and what they logged, inside one unit of work.

    Contract:
    - run ids are unique; :meth:`get` returns None for a missing run;
    - params are immutable: :meth:`add_params` inserts the keys the run does not have,
      skips keys it has with the same value, and returns the others as conflicts
      ``{key: (stored, offered)}`` without writing them;
    - tags are mutable: :meth:`set_tags` inserts or replaces;
    - :meth:`add_metric_points` appends every point and keeps ``latest_metrics`` equal to
      the point of highest (step, timestamp) per run and key, whatever the order in which
      batches arrive; ``None`` values stand for NaN;
    - an artifact path is unique per run; an input is unique per (run, version, role);
    - lists are ordered: history by (step, timestamp, insertion), artifacts by path,
      children by start time; rows returned are snapshots callers must not modify.
    """

    @abc.abstractmethod
    def add(self, row: RunRow) -> None: ...

    @abc.abstractmethod
    def insert(self, values: Mapping[str, Any]) -> None:
        """Insert a run from the column values of a :class:`RunRow` (bulk-friendly)."""

    @abc.abstractmethod
    def get(self, run_id: str) -> RunRow | None: ...

    @abc.abstractmethod
    def with_prefix(self, prefix: str, limit: int = 2) -> list[RunRow]:
        """Runs whose id starts with ``prefix`` (at most ``limit``)."""

    @abc.abstractmethod
    def children(self, run_id: str) -> list[RunRow]: ...

    @abc.abstractmethod
    def set_status(self, run_id: str, status: str, end_time: datetime | None) -> None: ...

    @abc.abstractmethod
    def add_params(
        self, run_id: str, params: Mapping[str, str], *, new_run: bool = False
    ) -> dict[str, tuple[str, str]]:
        """``new_run``: the run was inserted in this unit of work, so it has no params yet."""

    @abc.abstractmethod
    def params(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]: ...

    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, str], *, new_run: bool = False) -> None:
        """``new_run``: the run was inserted in this unit of work (plain inserts)."""

    @abc.abstractmethod
    def tags(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]: ...

    @abc.abstractmethod
    def add_metric_points(self, points: Sequence[MetricTuple], *, new_run: bool = False) -> None:
        """``new_run``: the run was inserted in this unit of work (no latest values yet)."""

    @abc.abstractmethod
    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, LatestMetricRow]]: ...

    @abc.abstractmethod
    def metric_history(self, run_id: str, key: str) -> list[MetricPointRow]: ...

    @abc.abstractmethod
    def add_artifact(self, row: RunArtifactRow) -> None: ...

    @abc.abstractmethod
    def artifacts(self, run_id: str) -> list[RunArtifactRow]: ...

    @abc.abstractmethod
    def add_input(self, row: RunInputRow) -> bool:
        """Record an input; False when the same (run, version, role) is already there."""

    @abc.abstractmethod
    def inputs(self, run_id: str) -> list[RunInputRow]: ...

    @abc.abstractmethod
    def readers_of(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[RunInputRow, RunRow, str]]:
        """The inputs naming any of ``dataset_version_ids``, each with its run and the
        run's experiment name, in one query: by input time, then run id and role (at most
        ``limit``)."""


def _upsert(dialect: str, table: Table, set_: tuple[str, ...], newer: bool = False) -> Any:
    """``INSERT ... ON CONFLICT (run_id, key) DO UPDATE`` for SQLite and PostgreSQL."""
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    new = stmt.excluded
    where = None
    if newer:  # only a point of a higher (step, timestamp) replaces the latest
        where = or_(
            new.step > table.c.step,
            and_(new.step == table.c.step, new.timestamp >= table.c.timestamp),
        )
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"], set_={c: new[c] for c in set_}, where=where
    )


_STATEMENTS: dict[tuple[str, str], Any] = {}


def _statement(dialect: str, name: str) -> Any:
    """Statements of the write path, built once per dialect (SQLAlchemy caches their SQL)."""
    stmt = _STATEMENTS.get((dialect, name))
    if stmt is None:
        if name == "tags":
            stmt = _upsert(dialect, _table(RunTagRow), ("value",))
        elif name == "latest":
            stmt = _upsert(dialect, _table(LatestMetricRow), ("value", "step", "timestamp"), True)
        else:
            row_class = {
                "run": RunRow,
                "params": RunParamRow,
                "new_tags": RunTagRow,
                "points": MetricPointRow,
                "new_latest": LatestMetricRow,
            }[name]
            stmt = _table(row_class).insert()
        _STATEMENTS[(dialect, name)] = stmt
    return stmt


_SQLITE_SQL: dict[tuple[str, tuple[str, ...]], Any] = {}


def _sqlite_statement(
    dialect: Any, name: str, statement: Any, keys: tuple[str, ...]
) -> tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]], dict[int, Any]] | None:
    """``(SQL, getter, processors)`` of a write-path statement on SQLite: the getter gives
    a row's parameters in the SQL's order, and ``processors`` (by position) the bind
    processors of the column types that convert values (what SQLAlchemy would apply).
    Compiled once per statement and key set; None when SQLAlchemy must execute it (a
    Python-side column default to compute, or a parameter that is not a column)."""
    cache_key = (name, keys)
    if cache_key in _SQLITE_SQL:
        cached: tuple[str, Any, dict[int, Any]] | None = _SQLITE_SQL[cache_key]
        return cached
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    order = list(compiled.positiontup or [])
    table = statement.table
    result: tuple[str, Any, dict[int, Any]] | None = None
    if (
        order
        and not compiled.insert_prefetch
        and not getattr(compiled, "postfetch", None)
        and all(key in keys and key in table.c for key in order)
    ):
        binders = {}
        for index, key in enumerate(order):
            process = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binders[index] = process
        getter: Callable[[Mapping[str, Any]], Any] = itemgetter(*order)
        if len(order) == 1:  # itemgetter of one key gives the value, not a 1-tuple
            only = order[0]
            getter = lambda row: (row[only],)  # noqa: E731
        result = (str(compiled), getter, binders)
    _SQLITE_SQL[cache_key] = result
    return result


class SqlRunRepository(RunRepository):
    """Runs in a SQLAlchemy session; bulk writes go through SQLAlchemy Core executemany
    (on SQLite, the hot path of tracking, through the same connection's DB-API cursor
    with SQL compiled once, inside the same transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._bound: Connection | None = None

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def _connection(self) -> Connection:
        """The session's connection (asked once per repository: one transaction)."""
        if self._bound is None or self._bound.closed:
            self._bound = self._session.connection()
        return self._bound

    def _core(self, name: str, rows: list[dict[str, Any]]) -> None:
        connection = self._connection()
        statement = _statement(connection.dialect.name, name)
        if connection.dialect.name == "sqlite":
            fast = _sqlite_statement(connection.dialect, name, statement, tuple(rows[0]))
            if fast is not None:  # the hot path of tracking: no per-call compilation
                sql, getter, binders = fast
                params = [getter(row) for row in rows]
                if binders:  # the few columns whose type converts the value (times, flags)
                    params = [
                        tuple(
                            binders[i](value) if i in binders else value
                            for i, value in enumerate(values)
                        )
                        for values in params
                    ]
                cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.executemany(sql, params)
                except connection.dialect.loaded_dbapi.Error as exc:
                    # as SQLAlchemy would raise it (OperationalError, IntegrityError, ...)
                    raise DBAPIError.instance(
                        sql, params, exc, connection.dialect.loaded_dbapi.Error
                    ) from exc
                finally:
                    cursor.close()
                return
        connection.execute(statement, rows[0] if len(rows) == 1 else rows)

    def add(self, row: RunRow) -> None:
        self._session.add(row)
        self._session.flush()

    def insert(self, values: Mapping[str, Any]) -> None:
        self._core("run", [dict(values)])

    def get(self, run_id: str) -> RunRow | None:
        return self._session.get(RunRow, run_id)

    def with_prefix(self, prefix: str, limit: int = 2) -> list[RunRow]:
        query = (
            select(RunRow)
            .where(RunRow.id.startswith(prefix, autoescape=True))
            .order_by(RunRow.id)
            .limit(limit)
        )
        return list(self._session.execute(query).scalars())

    def children(self, run_id: str) -> list[RunRow]:
        query = (
            select(RunRow).where(RunRow.parent_id == run_id).order_by(RunRow.start_time, RunRow.id)
        )
        return list(self._session.execute(query).scalars())

    def set_status(self, run_id: str, status: str, end_time: datetime | None) -> None:
        self._session.execute(
            update(RunRow).where(RunRow.id == run_id).values(status=status, end_time=end_time)
        )

    def add_params(
        self, run_id: str, params: Mapping[str, str], *, new_run: bool = False
    ) -> dict[str, tuple[str, str]]:
        if not params:
            return {}
        stored: dict[str, str] = {}
        if not new_run:
            stored = dict(
                self._session.execute(
                    select(RunParamRow.key, RunParamRow.value).where(
                        RunParamRow.run_id == run_id, RunParamRow.key.in_(list(params))
                    )
                ).all()
            )
        conflicts = {k: (stored[k], v) for k, v in params.items() if k in stored and stored[k] != v}
        fresh = [
            {"run_id": run_id, "key": k, "value": v} for k, v in params.items() if k not in stored
        ]
        if fresh:
            self._core("params", fresh)
        return conflicts

    def params(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = defaultdict(dict)
        for chunk in _chunks(run_ids):
            rows = self._session.execute(
                select(RunParamRow.run_id, RunParamRow.key, RunParamRow.value).where(
                    RunParamRow.run_id.in_(chunk)
                )
            )
            for run_id, key, value in rows:
                out[run_id][key] = value
        return dict(out)

    def set_tags(self, run_id: str, tags: Mapping[str, str], *, new_run: bool = False) -> None:
        if tags:
            rows = [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
            self._core("new_tags" if new_run else "tags", rows)

    def tags(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = defaultdict(dict)
        for chunk in _chunks(run_ids):
            rows = self._session.execute(
                select(RunTagRow.run_id, RunTagRow.key, RunTagRow.value).where(
                    RunTagRow.run_id.in_(chunk)
                )
            )
            for run_id, key, value in rows:
                out[run_id][key] = value
        return dict(out)

    def add_metric_points(self, points: Sequence[MetricTuple], *, new_run: bool = False) -> None:
        if not points:
            return
        rows = [
            {"run_id": r, "key": k, "value": _nan_to_none(v), "step": s, "timestamp": t}
            for r, k, v, s, t in points
        ]
        self._core("points", rows)
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for row, (run_id, key, _, _, _) in zip(rows, points, strict=True):
            ident = (run_id, key)
            best = latest.get(ident)
            if best is None or (row["step"], row["timestamp"]) >= (best["step"], best["timestamp"]):
                latest[ident] = row
        self._core("new_latest" if new_run else "latest", list(latest.values()))

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, LatestMetricRow]]:
        out: dict[str, dict[str, LatestMetricRow]] = defaultdict(dict)
        for chunk in _chunks(run_ids):
            rows = self._session.execute(
                select(LatestMetricRow).where(LatestMetricRow.run_id.in_(chunk))
            ).scalars()
            for row in rows:
                out[row.run_id][row.key] = row
        return dict(out)

    def metric_history(self, run_id: str, key: str) -> list[MetricPointRow]:
        query = (
            select(MetricPointRow)
            .where(MetricPointRow.run_id == run_id, MetricPointRow.key == key)
            .order_by(MetricPointRow.step, MetricPointRow.timestamp, MetricPointRow.id)
        )
        return list(self._session.execute(query).scalars())

    def add_artifact(self, row: RunArtifactRow) -> None:
        self._session.add(row)
        self._session.flush()

    def artifacts(self, run_id: str) -> list[RunArtifactRow]:
        query = (
            select(RunArtifactRow)
            .where(RunArtifactRow.run_id == run_id)
            .order_by(RunArtifactRow.path)
        )
        return list(self._session.execute(query).scalars())

    def add_input(self, row: RunInputRow) -> bool:
        existing = self._session.get(RunInputRow, (row.run_id, row.dataset_version_id, row.role))
        if existing is not None:
            return False
        self._session.add(row)
        self._session.flush()
        return True

    def inputs(self, run_id: str) -> list[RunInputRow]:
        query = (
            select(RunInputRow)
            .where(RunInputRow.run_id == run_id)
            .order_by(RunInputRow.created_at, RunInputRow.role)
        )
        return list(self._session.execute(query).scalars())

    def readers_of(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[RunInputRow, RunRow, str]]:
        if not dataset_version_ids:
            return []
        query = (
            select(RunInputRow, RunRow, ExperimentRow.name)
            .join(RunRow, RunRow.id == RunInputRow.run_id)
            .join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
            .where(RunInputRow.dataset_version_id.in_(list(dataset_version_ids)))
            .order_by(RunInputRow.created_at, RunInputRow.run_id, RunInputRow.role)
        )
        if limit is not None:
            query = query.limit(limit)
        return [(item, run, name) for item, run, name in self._session.execute(query)]


def _table(row_class: type[Base]) -> Table:
    return cast(Table, row_class.__table__)


def _chunks(items: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
