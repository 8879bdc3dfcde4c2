"""The charter document: valid documents, malformed ones with their exact messages."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mlsteward as ms
from mlsteward.charter import (
    CHARTER_TEMPLATE,
    METRICS,
    Charter,
    check_charter,
    check_charter_file,
    load_charter,
    metric_names,
)

SUCCESS = ", ".join([*metric_names(kind="quality"), *metric_names(kind="business")])
FAIRNESS = ", ".join(metric_names(kind="fairness"))
BINARY_QUALITY = ", ".join(metric_names(kind="quality", task="binary"))

Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    """An edit that sets a dotted path (list indexes as numbers) to ``value``."""

    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _drop(path: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        for e in edits:
            e(doc)

    return edit


# Each case: an edit of a valid binary charter, and every problem it must report, exactly.
MALFORMED: list[tuple[str, Edit, list[str]]] = [
    (
        "unknown metric, with a suggestion",
        _set("success_metrics.0.metric", "roc_acu"),
        [
            "success_metrics[0].metric: unknown metric 'roc_acu'; did you mean 'roc_auc'? "
            f"Success metrics: {SUCCESS}"
        ],
    ),
    (
        "out-of-range threshold, with its path",
        _set("success_metrics.1", {"metric": "roc_auc", "threshold": 1.7, "on": "val"}),
        ["success_metrics[1].threshold: roc_auc must be between 0 and 1, got 1.7"],
    ),
    (
        "negative log loss threshold",
        _set("success_metrics.0", {"metric": "log_loss", "threshold": -0.1}),
        ["success_metrics[0].threshold: log_loss must be at least 0, got -0.1"],
    ),
    (
        "r2 above 1",
        lambda d: d.update(
            task={"type": "regression", "target": "y", "prediction_unit": "house"},
            success_metrics=[{"metric": "r2", "threshold": 2}],
            business_value=None,
            constraints={},
        ),
        ["success_metrics[0].threshold: r2 must be at most 1, got 2"],
    ),
    (
        "missing target",
        _drop("task.target"),
        ["task.target: missing required field: the column the model predicts"],
    ),
    (
        "binary task without a positive class",
        _drop("task.positive_class"),
        [
            "task.positive_class: a binary task needs positive_class: the label of the class "
            "the model predicts (e.g. 1, true or 'yes')"
        ],
    ),
    (
        "threshold of the wrong type",
        _set("success_metrics.0.threshold", "high"),
        ["success_metrics[0].threshold: expected a number, got 'high' (text)"],
    ),
    (
        "a number given as text is refused too",
        _set("success_metrics.0.threshold", "0.85"),
        ["success_metrics[0].threshold: expected a number, got '0.85' (text)"],
    ),
    (
        "required of the wrong type",
        _set("success_metrics.2.required", "no"),
        ["success_metrics[2].required: expected true or false, got 'no' (text)"],
    ),
    (
        "a section given as text",
        _set("task", "binary"),
        ["task: expected a mapping (key: value pairs), got 'binary' (text)"],
    ),
    (
        "success metrics not a list",
        _set("success_metrics", "roc_auc"),
        ["success_metrics: expected a list, got 'roc_auc' (text)"],
    ),
    (
        "no success metric",
        _set("success_metrics", []),
        ["success_metrics: needs at least 1 entry, got 0"],
    ),
    (
        "negative latency",
        _set("constraints.latency_p95_ms", -5),
        ["constraints.latency_p95_ms: must be greater than 0, got -5"],
    ),
    (
        "p99 budget below p95",
        _set("constraints.latency_p99_ms", 20),
        [
            "constraints.latency_p99_ms: the p99 budget (20 ms) is below the p95 budget "
            "(50 ms); a 99th percentile is never below the 95th"
        ],
    ),
    (
        "a non-fairness metric as fairness metric",
        _set("constraints.fairness.0.metric", "accuracy"),
        [
            f"constraints.fairness[0].metric: accuracy is not a fairness metric; expected one of {FAIRNESS}"
        ],
    ),
    (
        "misspelt fairness metric",
        _set("constraints.fairness.0.metric", "equalised_odds_difference"),
        [
            "constraints.fairness[0].metric: unknown metric 'equalised_odds_difference'; did "
            f"you mean 'equalized_odds_difference'? Fairness metrics: {FAIRNESS}"
        ],
    ),
    (
        "ratio metric with max_disparity",
        _set("constraints.fairness.0.metric", "demographic_parity_ratio"),
        [
            "constraints.fairness[0].max_disparity: demographic_parity_ratio is a ratio "
            "(higher is fairer); give min_ratio (e.g. 0.8) instead of max_disparity"
        ],
    ),
    (
        "disparity above 1",
        _set("constraints.fairness.0.max_disparity", 1.5),
        ["constraints.fairness[0].max_disparity: must be at most 1, got 1.5"],
    ),
    (
        "unknown top-level key",
        _set("objectiv", {"statement": "x"}),
        [
            "objectiv: unknown field 'objectiv'; did you mean 'objective'? Allowed here: "
            "schema_version, objective, task, success_metrics, business_value, constraints, "
            "scope, monitoring, rollout"
        ],
    ),
    (
        "misspelt nested key",
        lambda d: d["success_metrics"].__setitem__(0, {"metric": "f1", "threshhold": 0.7}),
        [
            "success_metrics[0].threshold: missing required field: the bar: a minimum for "
            "metrics where higher is better, a maximum otherwise",
            "success_metrics[0].threshhold: unknown field 'threshhold'; did you mean "
            "'threshold'? Allowed here: metric, threshold, on, required, note",
        ],
    ),
    (
        "task type not one of the choices",
        _set("task.type", "binar"),
        [
            "task.type: expected one of 'binary', 'multiclass', 'regression', got 'binar' "
            "(text); did you mean 'binary'?"
        ],
    ),
    (
        "a metric that does not apply to the task",
        _set("success_metrics.0", {"metric": "mae", "threshold": 3}),
        [
            f"success_metrics[0].metric: mae applies to regression tasks, not binary; metrics "
            f"for binary tasks: {BINARY_QUALITY}"
        ],
    ),
    (
        "an operational metric as success metric",
        _set("success_metrics.0", {"metric": "latency_p95_ms", "threshold": 30}),
        [
            "success_metrics[0].metric: latency_p95_ms is an operational metric, not a "
            "success metric; set it in constraints.latency_p95_ms instead"
        ],
    ),
    (
        "one metric and role twice",
        lambda d: d["success_metrics"].append({"metric": "roc_auc", "threshold": 0.9}),
        [
            "success_metrics[3]: roc_auc on test is listed twice (also at success_metrics[0]); "
            "keep one threshold per metric and role"
        ],
    ),
    (
        "expected value without business value",
        _both(
            _drop("business_value"),
            _set("success_metrics.2", {"metric": "expected_value_per_1k", "threshold": 10}),
        ),
        [
            "success_metrics[2].metric: expected_value_per_1k needs a business_value section "
            "(what each outcome is worth); add one"
        ],
    ),
    (
        "changing the task type reports every section that no longer fits",
        _set("task", {"type": "regression", "target": "y", "prediction_unit": "house"}),
        [
            f"success_metrics[{i}].metric: {m} applies to binary, multiclass tasks, not "
            f"regression; metrics for regression tasks: mae, rmse, mape, r2"
            for i, m in enumerate(["roc_auc", "accuracy", "ece"])
        ]
        + [
            "business_value.value_matrix: value_matrix applies to binary tasks, not "
            "regression; use cost_per_unit_error instead",
            "business_value.cost_per_unit_error: a regression task's business value needs "
            "cost_per_unit_error",
            "constraints.fairness[0].metric: equalized_odds_difference applies to binary "
            "tasks, not regression",
        ],
    ),
    (
        "business value that does not fit the task",
        lambda d: d.update(
            task={"type": "regression", "target": "y", "prediction_unit": "house"},
            success_metrics=[{"metric": "mae", "threshold": 2}],
            constraints={},
        ),
        [
            "business_value.value_matrix: value_matrix applies to binary tasks, not "
            "regression; use cost_per_unit_error instead",
            "business_value.cost_per_unit_error: a regression task's business value needs "
            "cost_per_unit_error",
        ],
    ),
    (
        "positive class on a regression task, fairness on regression",
        lambda d: d.update(
            task={
                "type": "regression",
                "target": "y",
                "prediction_unit": "house",
                "positive_class": 1,
            }
        ),
        [
            "task.positive_class: positive_class applies to binary tasks only (task.type is "
            "regression); remove it",
        ],
    ),
    (
        "lower-case currency",
        _set("business_value.currency", "usd"),
        [
            "business_value.currency: expected a 3-letter ISO 4217 currency code in capitals "
            "such as USD or EUR, got 'usd'"
        ],
    ),
    (
        "input domain with min above max",
        _set("scope.input_domain.AGEP", {"min": 99, "max": 0}),
        ["scope.input_domain.AGEP: min (99) is greater than max (0); swap them"],
    ),
    (
        "input domain with a range and categories",
        _set("scope.input_domain.AGEP", {"min": 0, "allowed": ["a"]}),
        ["scope.input_domain.AGEP: give either a range (min/max) or allowed categories, not both"],
    ),
    (
        "a float as a category",
        _set("scope.input_domain.SEX", {"allowed": ["1", 2.5]}),
        [
            "scope.input_domain.SEX.allowed[1]: expected a class or category label (text, a "
            "whole number or true/false), got 2.5 (float)"
        ],
    ),
    (
        "the target as an input feature",
        _set("scope.input_domain.employed", {"allowed": [0, 1]}),
        [
            "scope.input_domain.employed: 'employed' is the target column (task.target); it "
            "cannot be an input feature. Remove it from the input domain"
        ],
    ),
    (
        "a feature name that is not text",
        _set("scope.input_domain", {5: {"min": 0}}),
        ["scope.input_domain[5]: keys must be text, got 5 (a number); quote the key"],
    ),
    (
        "a duration that is not one",
        _set("monitoring", {"expected_label_delay": "7 days"}),
        [
            "monitoring.expected_label_delay: expected a duration such as 30m, 12h, 7d or 2w "
            "(a whole number and one of s, m, h, d, w), got '7 days'"
        ],
    ),
    (
        "an e-mail route without a target",
        _set("monitoring", {"alert_routes": [{"channel": "email"}]}),
        [
            "monitoring.alert_routes[0].target: a email route needs a target (address, URL or "
            "channel)"
        ],
    ),
    (
        "canary steps that do not increase",
        _set("rollout", {"steps": [5, 50, 25, 100]}),
        ["rollout.steps[2]: steps must increase: 25 follows 50"],
    ),
    (
        "canary steps not ending at 100",
        _set("rollout", {"steps": [10, 50]}),
        ["rollout.steps[1]: the last step must be 100 (all traffic), got 50"],
    ),
    (
        "steps with a blue-green rollout",
        _set("rollout", {"strategy": "blue-green", "steps": [50, 100]}),
        [
            "rollout.steps: steps apply to the canary strategy only (strategy is blue-green); remove them"
        ],
    ),
    (
        "a non-finite threshold",
        _set("success_metrics.0.threshold", float("nan")),
        ["success_metrics[0].threshold: expected a finite number, got nan"],
    ),
    (
        "a future format",
        _set("schema_version", 2),
        ["schema_version: expected 1, got 2 (a number)"],
    ),
    (
        "no owner",
        _set("objective.owners", []),
        ["objective.owners: needs at least 1 entry, got 0"],
    ),
    (
        "an unquoted `on` read by a YAML 1.1 parser",
        lambda d: d["success_metrics"][0].update({True: "test"}),
        [
            "success_metrics[0][True]: a key read as true: a YAML 1.1 reader turns an unquoted "
            "`on` (or yes, no, off) into a boolean; write 'on' in quotes, or load the file "
            "with Charter.from_yaml"
        ],
    ),
    (
        "several problems at once, in document order",
        _both(
            _drop("task.target"),
            _set("success_metrics.0.threshold", 1.7),
            _set("constraints.latency_p95_ms", 0),
        ),
        [
            "task.target: missing required field: the column the model predicts",
            "success_metrics[0].threshold: roc_auc must be between 0 and 1, got 1.7",
            "constraints.latency_p95_ms: must be greater than 0, got 0",
        ],
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_documents_report_each_problem_with_its_path(
    doc: dict[str, Any], edit: Edit, expected: list[str]
) -> None:
    edit(doc)
    assert [str(p) for p in check_charter(doc)] == expected
    with pytest.raises(ms.InvalidInput) as info:
        Charter.from_dict(doc, source="charter.yaml")
    message = str(info.value)
    n = len(expected)
    assert message.startswith(
        f"charter.yaml is not a valid charter ({n} problem{'s' if n > 1 else ''}):\n"
    )
    for line in expected:
        assert f"\n  {line}\n" in message
    assert message.endswith(
        "Fix them, then check again with: steward charter validate charter.yaml"
    )
    assert info.value.exit_code == 2


def test_valid_documents_read_with_defaults_filled_in(
    doc: dict[str, Any], regression: dict[str, Any]
) -> None:
    charter = Charter.from_dict(doc)
    assert check_charter(doc) == []
    assert charter.task.positive_class == 1 and charter.task.threshold == 0.5
    assert [m.on for m in charter.success_metrics] == ["test", "validation", "test"]
    assert [m.required for m in charter.success_metrics] == [True, True, False]
    assert charter.success_metrics[0].comparison == "roc_auc >= 0.85 on test"
    assert charter.rollout.effective_steps == (5, 25, 50, 100)
    assert charter.monitoring.drift.max_drift_share == 0.3
    assert charter.constraints.fairness[0].min_group_size == 30
    reg = Charter.from_dict(regression)
    assert reg.business_value is not None and reg.business_value.cost_per_unit_error == 0.01
    assert reg.success_metrics[1].comparison == "r2 >= 0.6 on test"


def test_a_charter_is_immutable(doc: dict[str, Any]) -> None:
    charter = Charter.from_dict(doc)
    with pytest.raises(ValueError, match="frozen"):
        charter.task.target = "other"  # type: ignore[misc]
    assert charter.task.target == "employed"


def test_yaml_round_trip(doc: dict[str, Any], regression: dict[str, Any]) -> None:
    for data in (doc, regression):
        charter = Charter.from_dict(data)
        again = Charter.from_yaml_text(charter.to_yaml())
        assert again == charter
        assert again.canonical_json() == charter.canonical_json()
        assert again.content_hash() == charter.content_hash()


def test_json_round_trip_and_files(doc: dict[str, Any], tmp_path: Path) -> None:
    charter = Charter.from_dict(doc)
    (tmp_path / "c.json").write_text(charter.to_json())
    (tmp_path / "c.yaml").write_text(charter.to_yaml())
    assert Charter.from_json(tmp_path / "c.json") == charter
    assert Charter.from_file(tmp_path / "c.json") == charter
    assert Charter.from_yaml(tmp_path / "c.yaml") == charter
    assert load_charter(str(tmp_path / "c.yaml")) == charter
    assert load_charter(doc) == charter
    assert load_charter(charter) is charter
    assert json.loads(charter.canonical_json()) == charter.to_dict()
    assert charter.canonical_json() == Charter.from_dict(copy.deepcopy(doc)).canonical_json()


def test_yaml_is_read_with_yaml_1_2_rules() -> None:
    text = CHARTER_TEMPLATE.replace("    threshold: 0.80\n", "    threshold: 8e-1\n", 1).replace(
        "allowed: [north, south, east, west]", "allowed: [NO, yes, off, 010]"
    )
    charter = Charter.from_yaml_text(text)
    assert charter.success_metrics[0].on == "test"  # `on:` is a key, not true
    assert charter.success_metrics[0].threshold == 0.8  # 8e-1 is a number
    assert charter.scope.input_domain["region"].allowed == ["NO", "yes", "off", 10]
    assert Charter.from_yaml_text(charter.to_yaml()) == charter


def test_yaml_syntax_errors_and_duplicate_keys_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task:\n  type: binary\n type: x\n")
    with pytest.raises(
        ms.InvalidInput, match=r"bad\.yaml: line 3, column 2: could not read the YAML"
    ):
        Charter.from_yaml(bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text("task:\n  type: binary\n  type: regression\n")
    with pytest.raises(ms.InvalidInput) as info:
        Charter.from_yaml(dup)
    assert str(info.value) == (
        f"{dup}: line 3, column 3: could not read the YAML: found the key 'type' twice "
        "(first on line 2); keep one of them."
    )


def test_empty_missing_and_non_mapping_files(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(ms.InvalidInput, match=r"empty.yaml is empty. Start from the template"):
        Charter.from_yaml(tmp_path / "empty.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ms.InvalidInput, match=r"must be a mapping of sections .* got list"):
        Charter.from_yaml(tmp_path / "list.yaml")
    with pytest.raises(
        ms.NotFound,
        match=r"Charter file '.*nope.yaml' does not exist. Write one with: steward charter init",
    ):
        Charter.from_file(tmp_path / "nope.yaml")
    (tmp_path / "bad.json").write_text('{"task": }')
    with pytest.raises(
        ms.InvalidInput, match=r"bad\.json: line 1, column 10: could not read the JSON"
    ):
        check_charter_file(tmp_path / "bad.json")
    with pytest.raises(ms.InvalidInput, match="got int"):
        load_charter(3)  # type: ignore[arg-type]


def test_the_template_is_a_valid_commented_charter() -> None:
    charter = Charter.from_yaml_text(CHARTER_TEMPLATE)
    assert charter.task.type == "binary"
    assert CHARTER_TEMPLATE.count("#") > 20
    for section in Charter.model_fields:
        assert f"\n{section}:" in CHARTER_TEMPLATE


def test_published_json_schema_is_current() -> None:
    from mlsteward.charter import charter_json_schema, charter_json_schema_text

    published = Path(__file__).parents[2] / "docs" / "charter.schema.json"
    assert published.read_text(encoding="utf-8") == charter_json_schema_text(), (
        "docs/charter.schema.json is stale; regenerate it: steward charter schema -o docs/charter.schema.json"
    )
    schema = charter_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"objective", "task", "success_metrics", "scope"}
    metric_enum = schema["$defs"]["SuccessMetric"]["properties"]["metric"]["enum"]
    assert "roc_auc" in metric_enum and "latency_p95_ms" not in metric_enum


def test_the_guide_documents_every_metric_and_section() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "charter.md").read_text(encoding="utf-8")
    for name in METRICS:
        assert f"| `{name}` |" in guide
    for section in Charter.model_fields:
        assert f"`{section}`" in guide or f"`{section}[]`" in guide


def test_public_names() -> None:
    import mlsteward.charter as charter_pkg

    public = {n for n in vars(charter_pkg) if not n.startswith("_")}
    assert public == set(charter_pkg.__all__)
    assert len(charter_pkg.__all__) == len(set(charter_pkg.__all__))
    assert ms.Charter is Charter
    assert "Charter" in ms.__all__ and ms.__all__ == sorted(ms.__all__)
