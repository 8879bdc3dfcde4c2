"""Records of the data stage: dataset versions, lineage edges, check results, tags."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from mlsteward.store.metadata import (
    DatasetCheckResultRow,
    DatasetCheckRunRow,
    DatasetComplianceTagRow,
    DatasetLineageRow,
    DatasetVersionRow,
)

if TYPE_CHECKING:
    from mlsteward.store import Store

__all__ = [
    "CheckReport",
    "CheckResult",
    "CheckStatus",
    "ColumnSchema",
    "ComplianceTag",
    "DatasetVersion",
    "LineageEdge",
    "LineageNode",
    "Severity",
]

Severity = Literal["blocking", "warning"]
CheckStatus = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class ColumnSchema:
    """One column: its name, logical type (see :mod:`mlsteward.data._types`) and the
    Arrow type it is stored with."""

    name: str
    type: str
    physical: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "physical": self.physical}


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a named dataset in a project.

    ``version`` is the content hash of the data (64 hex digits, see ``docs/data.md``);
    ``ref`` is ``name@version``. ``id`` is the row id other tables point to.
    """

    id: str
    project: str
    project_id: str
    name: str
    version: str
    hash_method: str
    role: str | None
    schema: tuple[ColumnSchema, ...]
    row_count: int
    artifact_digest: str
    artifact_size: int
    profile_digest: str | None
    source: str | None
    license: str | None
    consent: str | None
    time_column: str | None
    target: str | None
    parents: tuple[str, ...]
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def short_ref(self) -> str:
        """``name@`` and the first 12 hex digits of the version, for display."""
        return f"{self.name}@{self.version[:12]}"

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.schema]

    @property
    def column_types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.schema}

    def load(
        self,
        store: Store,
        *,
        columns: list[str] | None = None,
        format: Literal["pandas", "arrow", "polars"] = "pandas",
    ) -> Any:
        """The data of this version from ``store``: pandas (default), arrow or polars."""
        from mlsteward.data._versions import load_dataset

        return load_dataset(store, self.project, self, columns=columns, format=format)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "hash_method": self.hash_method,
            "role": self.role,
            "schema": [c.to_dict() for c in self.schema],
            "row_count": self.row_count,
            "artifact_digest": self.artifact_digest,
            "artifact_size": self.artifact_size,
            "profile_digest": self.profile_digest,
            "source": self.source,
            "license": self.license,
            "consent": self.consent,
            "time_column": self.time_column,
            "target": self.target,
            "parents": list(self.parents),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }

    @classmethod
    def from_row(
        cls, row: DatasetVersionRow, project: str, parents: tuple[str, ...] = ()
    ) -> DatasetVersion:
        schema = tuple(ColumnSchema(**c) for c in json.loads(row.schema_json))
        return cls(
            id=row.id,
            project=project,
            project_id=row.project_id,
            name=row.name,
            version=row.version,
            hash_method=row.hash_method,
            role=row.role,
            schema=schema,
            row_count=row.row_count,
            artifact_digest=row.artifact_digest,
            artifact_size=row.artifact_size,
            profile_digest=row.profile_digest,
            source=row.source,
            license=row.license,
            consent=row.consent,
            time_column=row.time_column,
            target=row.target,
            parents=parents,
            created_at=row.created_at,
            created_by=row.created_by,
        )


@dataclass(frozen=True)
class LineageEdge:
    """``child`` was made from ``parent`` by ``method`` with ``params`` (incl. any seed)."""

    parent: str
    child: str
    method: str
    params: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "child": self.child,
            "method": self.method,
            "params": self.params,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_row(cls, row: DatasetLineageRow, parent: str, child: str) -> LineageEdge:
        return cls(parent, child, row.method, json.loads(row.params_json), row.created_at)


@dataclass(frozen=True)
class LineageNode:
    """A version in a lineage tree, with the edge that links it to the node above."""

    version: DatasetVersion
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    children: tuple[LineageNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.version.ref,
            "role": self.version.role,
            "rows": self.version.row_count,
            "method": self.method,
            "params": self.params,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    ``status`` is ``pass``, ``fail`` or ``skipped`` (the check could not run on this data,
    e.g. no target; ``message`` says why). A failed ``blocking`` check fails the run.
    ``columns`` names the offending columns; ``details`` holds the measured values.
    """

    kind: str
    name: str
    status: CheckStatus
    severity: Severity
    message: str
    columns: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking_failure(self) -> bool:
        return self.status == "fail" and self.severity == "blocking"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "severity": self.severity,
            "message": self.message,
            "columns": list(self.columns),
            "details": self.details,
        }

    @classmethod
    def from_row(cls, row: DatasetCheckResultRow) -> CheckResult:
        details = json.loads(row.details_json)
        columns = tuple(details.pop("_columns", []))
        return cls(
            kind=row.kind,
            name=row.name,
            status=row.status,  # type: ignore[arg-type]  # written from CheckStatus
            severity=row.severity,  # type: ignore[arg-type]  # written from Severity
            message=row.message,
            columns=columns,
            details=details,
        )


@dataclass(frozen=True)
class CheckReport:
    """A stored run of checks on one version."""

    id: str
    dataset: str
    reference: str | None
    results: tuple[CheckResult, ...]
    spec: dict[str, Any]
    created_at: datetime
    created_by: str

    @property
    def passed(self) -> bool:
        """True when no blocking check failed (warnings do not fail a run)."""
        return not any(r.blocking_failure for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "reference": self.reference,
            "passed": self.passed,
            "results": [r.to_dict() for r in self.results],
            "spec": self.spec,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }

    @classmethod
    def from_rows(
        cls,
        run: DatasetCheckRunRow,
        results: list[DatasetCheckResultRow],
        dataset: str,
        reference: str | None,
    ) -> CheckReport:
        return cls(
            id=run.id,
            dataset=dataset,
            reference=reference,
            results=tuple(CheckResult.from_row(r) for r in results),
            spec=json.loads(run.spec_json),
            created_at=run.created_at,
            created_by=run.created_by,
        )


@dataclass(frozen=True)
class ComplianceTag:
    """A compliance tag, e.g. ``personal:email`` on column ``contact``."""

    column: str
    tag: str
    source: str
    details: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "tag": self.tag,
            "source": self.source,
            "details": self.details,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_row(cls, row: DatasetComplianceTagRow) -> ComplianceTag:
        return cls(row.column, row.tag, row.source, json.loads(row.details_json), row.created_at)
