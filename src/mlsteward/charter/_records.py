"""Records of the charter stage: stored versions, apply outcomes, differences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mlsteward.charter._schema import Charter

__all__ = ["ApplyResult", "CharterChange", "CharterDiff", "CharterVersion"]


@dataclass(frozen=True)
class CharterVersion:
    """One immutable version of a project's charter (versions are numbered 1, 2, ...)."""

    project: str
    version: int
    charter: Charter
    content_hash: str
    created_at: datetime
    created_by: str
    note: str
    id: str

    @property
    def ref(self) -> str:
        """``project@version``, how reports cite it."""
        return f"{self.project}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "version": self.version,
            "content_hash": self.content_hash,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "note": self.note,
            "charter": self.charter.to_dict(),
        }


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply_charter` did: the version now in force, and whether it is new
    (``created`` is False when the content equalled the latest version's)."""

    charter_version: CharterVersion
    created: bool

    @property
    def version(self) -> int:
        return self.charter_version.version

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, **self.charter_version.to_dict()}


ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class CharterChange:
    """One difference between two charters, at a field path."""

    path: str
    kind: ChangeKind
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        """``~ success_metrics[0].threshold: 0.85 -> 0.87`` (``+`` added, ``-`` removed)."""
        if self.kind == "added":
            return f"+ {self.path}: {_show(self.new)}"
        if self.kind == "removed":
            return f"- {self.path}: {_show(self.old)}"
        return f"~ {self.path}: {_show(self.old)} -> {_show(self.new)}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class CharterDiff:
    """The changes from one version of a project's charter to another."""

    project: str
    from_version: int
    to_version: int
    changes: tuple[CharterChange, ...]

    @property
    def identical(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "changes": [c.to_dict() for c in self.changes],
        }


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)
