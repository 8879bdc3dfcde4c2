"""Many processes writing to one SQLite store at once: no "database is locked", one chain.

Each worker is a fresh interpreter (multiprocessing "spawn"), so nothing is shared but
the database file. A barrier releases them together to make the contention real. The same
eight workers run two rounds (starting interpreters is the slow part): first on a store
that none of them has created yet (the first-use creation race), then on an existing one.
"""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path
from typing import Any

import mlsteward as ms

WORKERS = 8
PROJECTS_EACH = 6


def _worker(rounds: list[tuple[str, str]], index: int, barrier: Any, results: Any) -> None:
    for number, (uri, artifacts) in enumerate(rounds):
        try:
            barrier.wait(timeout=120)
            client = ms.connect(uri, artifacts=artifacts, actor=f"worker-{index}")
            try:
                for k in range(PROJECTS_EACH):
                    client.create_project(f"w{index}-p{k}", description=f"by worker {index}")
            finally:
                client.close()
            results.put((number, index, "ok"))
        except BaseException:
            results.put((number, index, traceback.format_exc()))
            barrier.abort()  # release the others instead of letting them wait
            return


def _run_workers(rounds: list[tuple[str, str]]) -> dict[tuple[int, int], str]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_worker, args=(rounds, i, barrier, results)) for i in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes: dict[tuple[int, int], str] = {}
    try:
        for _ in range(WORKERS * len(rounds)):
            number, index, outcome = results.get(timeout=180)
            outcomes[number, index] = outcome
            if outcome != "ok":
                break
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():  # pragma: no cover - only when a worker hangs
                process.kill()
    return outcomes


def _check_store(uri: str, artifacts: str) -> None:
    with ms.connect(uri, artifacts=artifacts) as client:
        names = sorted(p.name for p in client.list_projects())
        expected = sorted(f"w{i}-p{k}" for i in range(WORKERS) for k in range(PROJECTS_EACH))
        assert names == expected
        result = client.verify_audit()
        assert (result.ok, result.count) == (True, WORKERS * PROJECTS_EACH), result.reason
        events = client.audit_log()
        assert [e.seq for e in events] == list(range(1, WORKERS * PROJECTS_EACH + 1))
        by_actor = {f"worker-{i}": 0 for i in range(WORKERS)}
        for event in events:
            by_actor[event.actor] += 1
        assert set(by_actor.values()) == {PROJECTS_EACH}


def test_eight_processes_create_projects_at_once(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    existing = tmp_path / "existing"
    rounds = [
        (f"sqlite:///{fresh / 'steward.db'}", str(fresh / "artifacts")),
        (f"sqlite:///{existing / 'steward.db'}", str(existing / "artifacts")),
    ]
    ms.connect(rounds[1][0], artifacts=rounds[1][1]).close()
    assert (existing / "steward.db").exists()
    assert not fresh.exists()  # the workers race to create this store

    outcomes = _run_workers(rounds)

    failures = [f"round {n}, worker {i}:\n{o}" for (n, i), o in outcomes.items() if o != "ok"]
    assert not failures, "\n".join(failures)
    assert not any("database is locked" in o for o in outcomes.values())
    assert sorted(outcomes) == [(n, i) for n in range(len(rounds)) for i in range(WORKERS)]
    for uri, artifacts in rounds:
        _check_store(uri, artifacts)
