"""``st.charters``: the charter stage in the Python SDK."""

from __future__ import annotations

from mlsteward.charter._gates import evaluate_gates
from mlsteward.charter._records import ApplyResult, CharterDiff, CharterVersion
from mlsteward.charter._schema import CharterSource
from mlsteward.charter._service import (
    apply_charter,
    diff_charter_versions,
    get_charter,
    list_charters,
)
from mlsteward.charter._verdicts import GateReport, Measurements, Stage
from mlsteward.store import Store

__all__ = ["Charters"]


class Charters:
    """Versioned charters of the projects in one store.

    >>> st.charters.apply("acs-employment", "charter.yaml").version  # doctest: +SKIP
    1
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def apply(self, project: str, charter: CharterSource, *, note: str = "") -> ApplyResult:
        """Store a new version (a Charter, a dict, or a YAML/JSON path); no new version
        when the content equals the latest (``result.created`` is then False)."""
        return apply_charter(self._store, project, charter, note=note)

    def get(self, project: str, version: int | None = None) -> CharterVersion:
        """A version of the project's charter; the latest by default."""
        return get_charter(self._store, project, version)

    def list(self, project: str) -> list[CharterVersion]:
        """Every version, oldest first."""
        return list_charters(self._store, project)

    def diff(self, project: str, v1: int, v2: int) -> CharterDiff:
        """Field-path changes from version ``v1`` to ``v2``."""
        return diff_charter_versions(self._store, project, v1, v2)

    def evaluate(
        self,
        project: str,
        measurements: Measurements,
        *,
        version: int | None = None,
        stage: Stage | None = None,
    ) -> GateReport:
        """Judge a version's gates (the latest by default) on measured values."""
        return evaluate_gates(get_charter(self._store, project, version), measurements, stage=stage)

    def __repr__(self) -> str:
        return f"Charters({self._store!r})"
