"""Search runs: filter ASTs compiled to SQLAlchemy expressions with bound parameters.

Each metric, param or tag term becomes ``runs.id IN (SELECT run_id FROM <table> WHERE
key = :k AND value <op> :v)``, which uses the ``(key, value)`` indexes of
``latest_metrics`` and ``run_params``; attributes compare columns of ``runs``. A NULL
(NaN) metric value matches no comparison, ``!=`` included. On SQLite ``like`` is compiled
to ``GLOB`` so that it is case-sensitive on both backends; ``ilike`` ignores case.

Staleness is not a status but a flag derived from the clock and a setting (see
:mod:`._liveness`), so the filter language does not know it: ``stale=True`` keeps only
stale runs, ``stale=False`` leaves them out, both compiled to SQL like a filter term.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select
from sqlalchemy.orm import aliased

from mlsteward.core import InvalidInput, utcnow
from mlsteward.store import Store
from mlsteward.store.metadata import (
    ExperimentRow,
    LatestMetricRow,
    RunParamRow,
    RunRow,
    RunTagRow,
    SqlProjectRepository,
)
from mlsteward.tracking._filter import (
    And,
    Comparison,
    Field,
    Node,
    Not,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
)
from mlsteward.tracking._liveness import stale_condition, stale_seconds
from mlsteward.tracking._records import Run
from mlsteward.tracking._service import check_experiment_name, run_records

__all__ = ["MAX_RESULTS", "compile_filter", "search_runs"]

MAX_RESULTS = 50_000


def _like_to_glob(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def _compare(column: Any, op: str, values: tuple[Any, ...], dialect: str) -> ColumnElement[bool]:
    value = values[0]
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "in":
        return column.in_(list(values))  # type: ignore[no-any-return]
    if op == "not in":
        return column.not_in(list(values))  # type: ignore[no-any-return]
    if op in {"like", "not like"}:
        if dialect == "sqlite":
            expr = column.op("GLOB", is_comparison=True)(_like_to_glob(str(value)))
        else:
            expr = column.like(value)
        return expr if op == "like" else not_(expr)  # type: ignore[no-any-return]
    if op in {"ilike", "not ilike"}:
        expr = func.lower(column).like(func.lower(value))
        return expr if op == "ilike" else not_(expr)
    raise AssertionError(f"unknown operator {op}")  # pragma: no cover


def _term(node: Comparison, dialect: str) -> ColumnElement[bool]:
    field = node.field
    if field.kind == "attribute":
        column = _attribute_column(field.key)
        return _compare(column, node.op, node.values, dialect)
    table: Any = {"metric": LatestMetricRow, "param": RunParamRow, "tag": RunTagRow}[field.kind]
    matching = select(table.run_id).where(
        table.key == field.key, _compare(table.value, node.op, node.values, dialect)
    )
    return RunRow.id.in_(matching)


def _attribute_column(key: str) -> Any:
    columns: dict[str, Any] = {
        "run_id": RunRow.id,
        "name": RunRow.name,
        "status": RunRow.status,
        "parent_id": RunRow.parent_id,
        "experiment": ExperimentRow.name,
        "created_by": RunRow.created_by,
        "start_time": RunRow.start_time,
        "end_time": RunRow.end_time,
    }
    return columns[key]


def compile_filter(node: Node, dialect: str) -> ColumnElement[bool]:
    """The SQL condition of a parsed filter (every value a bound parameter)."""
    if isinstance(node, Comparison):
        return _term(node, dialect)
    if isinstance(node, And):
        return and_(*(compile_filter(item, dialect) for item in node.items))
    if isinstance(node, Or):
        return or_(*(compile_filter(item, dialect) for item in node.items))
    if isinstance(node, Not):
        return not_(compile_filter(node.item, dialect))
    raise AssertionError(f"unknown node {node!r}")  # pragma: no cover


def _order(query: Any, terms: Sequence[OrderBy]) -> Any:
    clauses: list[Any] = []
    for number, term in enumerate(terms):
        field: Field = term.field
        if field.kind == "attribute":
            column = _attribute_column(field.key)
        else:
            table: Any = {"metric": LatestMetricRow, "param": RunParamRow, "tag": RunTagRow}[
                field.kind
            ]
            alias = aliased(table, name=f"order_{number}")
            query = query.outerjoin(alias, and_(alias.run_id == RunRow.id, alias.key == field.key))
            column = alias.value
        clauses.append((column.desc() if term.descending else column.asc()).nulls_last())
    clauses += [RunRow.start_time.desc(), RunRow.id.desc()]
    return query.order_by(*clauses)


def search_runs(
    store: Store,
    project: str,
    filter: str | None = None,
    *,
    order_by: Sequence[str] | None = None,
    max_results: int = 100,
    experiment: str | Sequence[str] | None = None,
    stale: bool | None = None,
) -> list[Run]:
    """Runs of ``project`` matching ``filter``, ordered by ``order_by`` (then newest first).

    ``stale=True`` keeps only stale runs (running, but silent for longer than the
    ``run_stale_seconds`` setting), ``stale=False`` leaves them out.

    >>> # st.search_runs("acs", "metrics.roc_auc > 0.8 and params.max_depth = '5'",
    >>> #                order_by=["metrics.roc_auc DESC"], max_results=10)
    """
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidInput(f"max_results must be an integer; got {max_results!r}.")
    if not 1 <= max_results <= MAX_RESULTS:
        raise InvalidInput(
            f"max_results must be between 1 and {MAX_RESULTS}; got {max_results}. "
            "Narrow the filter to find fewer runs."
        )
    if stale is not None and not isinstance(stale, bool):
        raise InvalidInput(
            f"stale must be True (only stale runs), False (no stale runs) or None (all); "
            f"got {stale!r}."
        )
    if isinstance(order_by, str):
        order_by = [order_by]
    terms = [parse_order_by(t) for t in order_by or ()]
    node = parse_filter(filter) if filter is not None and filter.strip() else None
    experiments: list[str] | None
    if experiment is None:
        experiments = None
    elif isinstance(experiment, str):
        experiments = [check_experiment_name(experiment)]
    else:
        experiments = [check_experiment_name(e) for e in experiment]
    dialect = store.backend
    now, stale_after = utcnow(), stale_seconds(store)
    with store.reader() as session:
        proj = SqlProjectRepository(session).get(project)
        query = (
            select(RunRow, ExperimentRow.name)
            .join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
            .where(RunRow.project_id == proj.id)
        )
        if experiments is not None:
            query = query.where(ExperimentRow.name.in_(experiments) if experiments else false())
        if node is not None:
            query = query.where(compile_filter(node, dialect))
        if stale is not None:
            condition = stale_condition(now - timedelta(seconds=stale_after))
            query = query.where(condition if stale else not_(condition))
        query = _order(query, terms).limit(max_results)
        rows = [(row, project, exp) for row, exp in session.execute(query).all()]
        return run_records(session, rows, stale_after=stale_after, now=now)
