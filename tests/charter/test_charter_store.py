"""Charter versions in the store, through the SDK, on every metadata backend."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import update

import mlsteward as ms
from mlsteward.charter import ApplyResult, Charter
from mlsteward.store import Store
from mlsteward.store.metadata import Base, CharterVersionRow


def test_apply_get_list_versions(client: Any, doc: dict[str, Any], tmp_path: Path) -> None:
    client.create_project("acs")
    first = client.charters.apply("acs", doc, note="first cut")
    assert isinstance(first, ApplyResult)
    assert (first.version, first.created) == (1, True)
    record = first.charter_version
    assert record.project == "acs" and record.ref == "acs@1"
    assert record.created_by == "tester" and record.note == "first cut"
    assert record.charter == Charter.from_dict(doc)
    assert record.content_hash == Charter.from_dict(doc).content_hash()

    changed = copy.deepcopy(doc)
    changed["success_metrics"][0]["threshold"] = 0.87
    path = tmp_path / "charter.yaml"
    path.write_text(Charter.from_dict(changed).to_yaml())
    second = client.charters.apply("acs", str(path))
    assert (second.version, second.created) == (2, True)

    assert client.charters.get("acs") == second.charter_version
    assert client.charters.get("acs", version=1) == record
    assert [v.version for v in client.charters.list("acs")] == [1, 2]
    assert client.charters.get("acs", 2).charter.success_metrics[0].threshold == 0.87


def test_unchanged_content_is_a_no_op(client: Any, doc: dict[str, Any]) -> None:
    client.create_project("acs")
    first = client.charters.apply("acs", doc)
    events = client.verify_audit().count
    # the same content, spelt differently: defaults written out, keys reordered, via YAML
    charter = Charter.from_dict(doc)
    again = client.charters.apply("acs", Charter.from_yaml_text(charter.to_json()))
    assert again.created is False
    assert again.charter_version == first.charter_version
    reordered = dict(reversed(list(charter.to_dict().items())))
    assert client.charters.apply("acs", reordered, note="ignored").created is False
    assert [v.version for v in client.charters.list("acs")] == [1]
    assert client.verify_audit().count == events  # nothing written, nothing audited


def test_reverting_to_an_older_content_is_a_new_version(client: Any, doc: dict[str, Any]) -> None:
    client.create_project("acs")
    client.charters.apply("acs", doc)
    changed = copy.deepcopy(doc)
    changed["constraints"]["latency_p95_ms"] = 80
    client.charters.apply("acs", changed)
    revert = client.charters.apply("acs", doc)
    assert (revert.version, revert.created) == (3, True)
    assert revert.charter_version.content_hash == client.charters.get("acs", 1).content_hash


def test_apply_is_audited_in_the_same_chain(client: Any, doc: dict[str, Any]) -> None:
    client.create_project("acs")
    first = client.charters.apply("acs", doc, note="why")
    changed = copy.deepcopy(doc)
    changed["scope"]["population"] = "Massachusetts"
    client.charters.apply("acs", changed)
    events = client.audit_log(action="charter.apply")
    assert [(e.entity_kind, e.entity_id, e.actor) for e in events] == [
        ("charter", "acs", "tester")
    ] * 2
    assert events[0].payload == {
        "version": 1,
        "content_hash": first.charter_version.content_hash,
        "previous_version": None,
        "note": "why",
    }
    assert events[1].payload["version"] == 2 and events[1].payload["previous_version"] == 1
    assert client.verify_audit().ok


def test_diff_between_versions(client: Any, doc: dict[str, Any]) -> None:
    client.create_project("acs")
    client.charters.apply("acs", doc)
    changed = copy.deepcopy(doc)
    changed["success_metrics"][0]["threshold"] = 0.87
    changed["success_metrics"].pop()  # the optional ece
    changed["constraints"]["latency_p99_ms"] = 150
    changed["scope"]["input_domain"]["SEX"]["allowed"] = ["1", "2", "9"]
    changed["rollout"] = {"steps": [10, 50, 100]}
    client.charters.apply("acs", changed)
    diff = client.charters.diff("acs", 1, 2)
    assert [c.describe() for c in diff.changes] == [
        "~ success_metrics[0].threshold: 0.85 -> 0.87",
        '- success_metrics[2]: {"metric": "ece", "threshold": 0.05, "on": "test", "required": false, "note": null}',
        "+ constraints.latency_p99_ms: 150.0",
        '~ scope.input_domain.SEX.allowed: ["1", "2"] -> ["1", "2", "9"]',
        "+ rollout.steps: [10, 50, 100]",
    ]
    assert diff.to_dict()["changes"][0] == {
        "path": "success_metrics[0].threshold",
        "kind": "changed",
        "old": 0.85,
        "new": 0.87,
    }
    assert client.charters.diff("acs", 2, 2).identical
    assert [c.kind for c in client.charters.diff("acs", 2, 1).changes] == [
        "changed",
        "added",
        "removed",
        "changed",
        "removed",
    ]


def test_not_found_and_bad_versions_say_what_exists(client: Any, doc: dict[str, Any]) -> None:
    with pytest.raises(ms.NotFound, match="Project 'ghost' does not exist"):
        client.charters.apply("ghost", doc)
    client.create_project("acs")
    with pytest.raises(
        ms.NotFound,
        match=r"Project 'acs' has no charter yet. Apply one with: steward charter apply charter.yaml --project acs",
    ):
        client.charters.get("acs")
    assert client.charters.list("acs") == []
    client.charters.apply("acs", doc)
    with pytest.raises(
        ms.NotFound, match=r"Project 'acs' has no charter version 4; its versions are 1 to 1."
    ):
        client.charters.get("acs", 4)
    with pytest.raises(
        ms.InvalidInput, match=r"A charter version is a whole number from 1 .* got 0"
    ):
        client.charters.get("acs", 0)
    with pytest.raises(ms.InvalidInput, match="not a valid charter"):
        client.charters.apply("acs", {**doc, "task": {}})
    assert [v.version for v in client.charters.list("acs")] == [1]


def test_a_tampered_version_is_refused(client: Any, doc: dict[str, Any]) -> None:
    client.create_project("acs")
    client.charters.apply("acs", doc)
    store: Store = client.store
    with store.transaction() as tx:
        tx.session.execute(
            update(CharterVersionRow).values(
                content=CharterVersionRow.content.op("||")(" ")  # type: ignore[no-untyped-call]
            )
        )
    with pytest.raises(
        ms.IntegrityViolation,
        match="Charter version 1 of project 'acs' does not match its recorded hash",
    ):
        client.charters.get("acs")


def test_concurrent_applies_get_distinct_versions(client: Any, doc: dict[str, Any]) -> None:
    client.create_project("acs")
    store: Store = client.store
    errors: list[BaseException] = []

    def apply(n: int) -> None:
        changed = copy.deepcopy(doc)
        changed["constraints"]["latency_p95_ms"] = 10 + n
        try:
            ms.Client(store).charters.apply("acs", changed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=apply, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = client.charters.list("acs")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert sorted(v.charter.constraints.latency_p95_ms for v in versions) == [10, 11, 12, 13]
    assert client.verify_audit().ok


def test_the_charter_table_matches_its_migration(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [
            d for d in compare_metadata(context, Base.metadata) if "charter_versions" in repr(d)
        ]
    assert differences == []
    assert "charter_versions" in Base.metadata.tables
