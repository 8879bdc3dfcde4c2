"""The search filter: valid filters against a Python reference, malformed ones, injection."""

from __future__ import annotations

import math
import random
import re
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import inspect

import mlsteward as ms
from mlsteward.tracking import Run, parse_filter, search_runs
from mlsteward.tracking._filter import And, Comparison, Node, Not, Or


def _populate(client: Any, project: str, count: int = 30) -> list[Run]:
    rng = random.Random(5)
    for i in range(count):
        run = client.start_run(
            project,
            experiment="even" if i % 2 == 0 else "odd",
            name=f"run-{i:02d}" if i % 3 else f"Hgb-{i:02d}",
        )
        run.log_params({"max_depth": str(rng.randint(1, 5)), "kind": rng.choice(["hgb", "lr"])})
        if i % 5:
            run.log_metric("roc_auc", round(rng.uniform(0.5, 1.0), 3))
        if i % 7 == 0:
            run.log_metric("roc_auc", float("nan"))  # NaN: matches nothing
        run.log_metric("val/loss", rng.uniform(0, 2))
        run.set_tags({"team": rng.choice(["a", "b", "c%"])})
        run.end(rng.choice(["finished", "finished", "failed", "killed"]))
    return client.search_runs(project, max_results=1000)


def _python_match(node: Node, run: Run) -> bool:
    """The reference semantics, evaluated on run records."""
    if isinstance(node, And):
        return all(_python_match(n, run) for n in node.items)
    if isinstance(node, Or):
        return any(_python_match(n, run) for n in node.items)
    if isinstance(node, Not):
        return not _python_match(node.item, run)
    assert isinstance(node, Comparison)
    field = node.field
    value: Any
    if field.kind == "metric":
        value = run.metrics.get(field.key)
        if value is not None and math.isnan(value):
            value = None
    elif field.kind == "param":
        value = run.params.get(field.key)
    elif field.kind == "tag":
        value = run.tags.get(field.key)
    else:
        value = {
            "run_id": run.id,
            "name": run.name,
            "status": run.status,
            "experiment": run.experiment,
            "parent_id": run.parent_id,
            "created_by": run.created_by,
            "start_time": run.start_time,
            "end_time": run.end_time,
        }[field.key]
    if value is None:
        return False
    op, values = node.op, node.values
    if op in {"like", "not like", "ilike", "not ilike"}:
        pattern = "".join(
            ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in str(values[0])
        )
        flags = re.IGNORECASE if "ilike" in op else 0
        hit = re.fullmatch(pattern, value, flags | re.DOTALL) is not None
        return hit if not op.startswith("not") else not hit
    if op == "in":
        return value in values
    if op == "not in":
        return value not in values
    compare = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]
    return bool(compare(value, values[0]))


VALID = [
    "metrics.roc_auc > 0.8",
    "metrics.roc_auc >= 0.8 and params.max_depth = '5'",
    "metrics.roc_auc != 0.7",
    "metrics.`val/loss` < 1 or tags.team = 'a'",
    "metrics.val/loss < 1 and not (params.kind = 'hgb')",
    "params.max_depth in ('1', '2', 3)",
    "params.max_depth not in ('1', '2')",
    "params.kind = \"lr\" and (metrics.roc_auc > 0.6 or status = 'failed')",
    "attributes.status = 'finished' and experiment = 'even'",
    "name like 'run-1%'",
    "name like 'hgb%'",
    "name ilike 'hgb%'",
    "name not like 'run-%'",
    "tags.team like 'c\\%'",
    "tags.team like 'c%' and metrics.roc_auc <= 0.9",
    "status != 'killed' AND metrics.roc_auc > 0.5 OR params.kind = 'lr'",
    "run_id = 'nope'",
    "metric.roc_auc > 0.75 and param.kind == 'hgb'",
    "params.max_depth > '3'",
    "status in ('failed', 'killed')",
]


def test_valid_filters_match_the_python_reference(client: Any, project: str) -> None:
    runs = _populate(client, project)
    assert len(runs) == 30
    for text in [*VALID, f"start_time >= '{runs[10].start_time.isoformat()}'"]:
        node = parse_filter(text)
        expected = {r.id for r in runs if _python_match(node, r)}
        found = {r.id for r in client.search_runs(project, text, max_results=1000)}
        assert found == expected, text
    # not vacuous: the filters select different, non-trivial subsets
    sizes = {len(client.search_runs(project, f, max_results=1000)) for f in VALID}
    assert len(sizes) > 5 and 0 in sizes and max(sizes) < 30


def test_precedence_and_ordering(client: Any, project: str) -> None:
    runs = _populate(client, project, count=12)
    a_or_b_and_c = parse_filter("status = 'failed' or name = 'x' and name = 'y'")
    assert isinstance(a_or_b_and_c, Or)
    ordered = client.search_runs(
        project, "metrics.roc_auc > 0", order_by=["metrics.roc_auc DESC"], max_results=100
    )
    values = [r.metrics["roc_auc"] for r in ordered]
    assert values == sorted(values, reverse=True) and len(values) > 3
    by_missing = client.search_runs(project, order_by=["metrics.roc_auc ASC"], max_results=100)
    tail = [r.metrics.get("roc_auc") for r in by_missing][-3:]
    assert any(v is None or math.isnan(v) for v in tail)  # missing and NaN sort last
    names = [r.name for r in client.search_runs(project, order_by=["name"], max_results=3)]
    assert names == sorted(r.name for r in runs)[:3]
    assert len(client.search_runs(project, max_results=5)) == 5
    assert {r.experiment for r in client.search_runs(project, experiment="odd")} == {"odd"}


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("metrics.x > 0; DROP TABLE runs", 14, "unexpected character ';'"),
        ("metrics.x >", 12, "expected a value"),
        ("metrics.x 5", 11, "expected an operator"),
        ("params.a = 'open", 12, "never closed"),
        ("(metrics.x > 1", 15, "expected ')'"),
        ("metrics.x > 1 and", 18, "expected a field"),
        ("metrics.x > 'high'", 13, "compares with a number"),
        ("params.depth > 5", 16, "params are text"),
        ("colour = 'red'", 1, "unknown attribute 'colour'"),
        ("status = 'done'", 10, "unknown status 'done'"),
        ("metrics.x like 'a%'", 16, "'like' applies to text"),
        ("metrics.x > 1 metrics.y > 2", 15, "expected 'and', 'or'"),
        ("start_time > 'yesterday'", 14, "ISO-8601"),
        ("", 1, "the filter is empty"),
    ],
)
def test_malformed_filters_point_at_the_bad_token(text: str, position: int, message: str) -> None:
    with pytest.raises(ms.InvalidInput) as info:
        parse_filter(text)
    error = str(info.value)
    assert f"at position {position}:" in error
    assert message in error
    source_line, caret_line = error.splitlines()[1:3]
    assert source_line == f"  {text}"
    assert caret_line.index("^") - 2 == position - 1


INJECTIONS = [
    "params.kind = '' OR 1=1 --",
    "metrics.x > 0; DROP TABLE runs",
    "params.kind = 'x'); DELETE FROM runs; --",
    "tags.team = 'a' UNION SELECT id FROM projects",
]
HARMLESS = [
    "params.kind = 'x'' OR ''1''=''1'",
    "tags.`team'; DROP TABLE runs; --` = 'a'",
    "name like '%'' OR 1=1 --'",
]


def test_injection_attempts_are_refused_or_harmless(client: Any, project: str) -> None:
    _populate(client, project, count=6)
    for text in INJECTIONS:
        with pytest.raises(ms.InvalidInput):
            search_runs(client.store, project, text)
    for text in HARMLESS:  # valid filters whose strings stay data
        assert search_runs(client.store, project, text) == []
    tables = set(inspect(client.store.engine).get_table_names())
    assert {"runs", "run_params", "latest_metrics", "projects"} <= tables
    assert len(client.search_runs(project, max_results=100)) == 6


def test_bad_search_arguments(client: Any, project: str) -> None:
    with pytest.raises(ms.InvalidInput, match="max_results must be between 1 and"):
        client.search_runs(project, max_results=0)
    with pytest.raises(ms.InvalidInput, match="Invalid order_by term at position 16"):
        client.search_runs(project, order_by=["metrics.x DESC extra"])
    with pytest.raises(ms.NotFound, match="Project 'nope'"):
        client.search_runs("nope", "metrics.x > 1")


def test_time_values_accept_iso_and_epoch_millis() -> None:
    node = parse_filter("start_time > 1700000000000 and end_time < '2030-01-01'")
    assert isinstance(node, And)
    first, second = node.items
    assert isinstance(first, Comparison) and isinstance(second, Comparison)
    assert isinstance(first.values[0], datetime) and first.values[0].year == 2023
    assert second.values[0] == datetime.fromisoformat("2030-01-01T00:00:00+00:00")
