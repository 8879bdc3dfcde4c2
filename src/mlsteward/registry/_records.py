"""Records of the registry: models, versions, aliases, routes, and model references.

A model reference names a version of a registered model:

``NAME@3``        version 3 (``NAME@v3`` is accepted too)
``NAME@champion`` the version the alias ``champion`` points to
``NAME@latest``   the highest version number (whatever its state)
``NAME``          same as ``NAME@latest``
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from mlsteward.core import InvalidInput, validate_name
from mlsteward.registry._signature import Signature

__all__ = [
    "RESERVED_ALIASES",
    "CharterRef",
    "DatasetRef",
    "ModelAlias",
    "ModelRef",
    "ModelVersion",
    "RegisteredModel",
    "Route",
    "VersionState",
    "check_alias",
    "parse_model_ref",
]

VersionState = Literal["active", "deprecated", "retired"]
RESERVED_ALIASES = frozenset({"latest"})
_VERSION = re.compile(r"^v?([0-9]+)$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: ``name`` and either ``version`` or ``alias`` (``latest`` too)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.version if self.version is not None else self.alias}"


def parse_model_ref(ref: str) -> ModelRef:
    """Split ``NAME@VERSION``, ``NAME@ALIAS``, ``NAME@latest`` or ``NAME``.

    >>> parse_model_ref("acs@3")
    ModelRef(name='acs', version=3, alias=None)
    >>> parse_model_ref("acs@champion")
    ModelRef(name='acs', version=None, alias='champion')
    >>> str(parse_model_ref("acs"))
    'acs@latest'
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(
            f"Invalid model reference {ref!r}: expected NAME@VERSION, NAME@ALIAS, NAME@latest "
            "or NAME, e.g. acs@3 or acs@champion."
        )
    name, sep, selector = ref.strip().partition("@")
    try:
        validate_name("model", name)
    except InvalidInput as exc:
        raise InvalidInput(
            f"Invalid model reference {ref!r}: {exc.message} Expected NAME@VERSION or "
            "NAME@ALIAS, e.g. acs@3 or acs@champion."
        ) from None
    if not sep or selector == "latest":
        return ModelRef(name, alias="latest")
    match = _VERSION.match(selector)
    if match:
        version = int(match.group(1))
        if version < 1:
            raise InvalidInput(
                f"Invalid model reference {ref!r}: versions are numbered from 1; "
                f"use {name}@1 or {name}@latest."
            )
        return ModelRef(name, version=version)
    try:
        validate_name("alias", selector)
    except InvalidInput:
        raise InvalidInput(
            f"Invalid model reference {ref!r}: {selector!r} is neither a version number nor "
            f"an alias (lowercase letters, digits, '-', '_', '.'); expected e.g. {name}@3 or "
            f"{name}@champion."
        ) from None
    return ModelRef(name, alias=selector)


def check_alias(alias: object) -> str:
    """An alias is a name (like a model name) that is not a version number nor ``latest``.

    >>> check_alias("champion")
    'champion'
    """
    name = validate_name("alias", alias)
    if name in RESERVED_ALIASES or _VERSION.match(name):
        raise InvalidInput(
            f"Invalid alias {name!r}: 'latest' and version numbers (3, v3) already mean "
            "something in NAME@... references. Choose a word such as 'champion' or 'challenger'."
        )
    return name


@dataclass(frozen=True)
class DatasetRef:
    """A dataset version a model version was made from, and its role."""

    id: str
    name: str
    version: str
    role: str
    rows: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def short_ref(self) -> str:
        return f"{self.name}@{self.version[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "role": self.role,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class CharterRef:
    """The charter version in force in the project when the model was registered."""

    id: str
    project: str
    version: int
    content_hash: str

    @property
    def ref(self) -> str:
        return f"{self.project}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "project": self.project,
            "version": self.version,
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a registered model (only ``state`` changes over time).

    ``format`` is how the artifact is stored (``skops``, ``xgboost-ubj``,
    ``lightgbm-text``, ``pickle``, ``joblib``); ``trusted_types`` lists the types beyond
    skops' defaults it needs (each in Steward's trusted list); ``pickle_trusted`` is True
    when someone explicitly trusted a pickle-based artifact (audited).
    """

    id: str
    project: str
    name: str
    version: int
    state: VersionState
    state_reason: str | None
    state_changed_at: datetime | None
    flavor: str
    format: str
    artifact_digest: str
    artifact_size: int
    artifact_filename: str
    model_class: str
    trusted_types: tuple[str, ...]
    pickle_trusted: bool
    signature: Signature
    pipeline: Mapping[str, Any]
    metrics: Mapping[str, float]
    params: Mapping[str, str]
    requirements: Mapping[str, Any]
    meta: Mapping[str, Any]
    source_run_id: str | None
    source_artifact_path: str | None
    charter: CharterRef | None
    datasets: tuple[DatasetRef, ...]
    aliases: tuple[str, ...]
    description: str
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def deployable(self) -> bool:
        return self.state != "retired"

    @property
    def classes(self) -> list[Any] | None:
        classes = self.meta.get("classes")
        return None if classes is None else list(classes)

    @property
    def training_datasets(self) -> tuple[DatasetRef, ...]:
        return tuple(d for d in self.datasets if d.role in ("training", "train"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "state": self.state,
            "state_reason": self.state_reason,
            "state_changed_at": None
            if self.state_changed_at is None
            else self.state_changed_at.isoformat(),
            "aliases": list(self.aliases),
            "flavor": self.flavor,
            "format": self.format,
            "artifact": {
                "digest": self.artifact_digest,
                "size": self.artifact_size,
                "filename": self.artifact_filename,
                "trusted_types": list(self.trusted_types),
                "pickle_trusted": self.pickle_trusted,
            },
            "model_class": self.model_class,
            "signature": self.signature.to_dict(),
            "pipeline": dict(self.pipeline),
            "metrics": dict(self.metrics),
            "params": dict(self.params),
            "requirements": dict(self.requirements),
            "meta": dict(self.meta),
            "source_run_id": self.source_run_id,
            "source_artifact_path": self.source_artifact_path,
            "charter": None if self.charter is None else self.charter.to_dict(),
            "datasets": [d.to_dict() for d in self.datasets],
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class ModelAlias:
    """An alias and the version it points to, with who moved it last, when and why."""

    project: str
    name: str
    alias: str
    version: int
    reason: str
    updated_at: datetime
    updated_by: str
    previous_version: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.alias}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "name": self.name,
            "alias": self.alias,
            "ref": self.ref,
            "version": self.version,
            "previous_version": self.previous_version,
            "reason": self.reason,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class RegisteredModel:
    """A model name in a project, with its latest version and its aliases."""

    id: str
    project: str
    name: str
    description: str
    created_at: datetime
    created_by: str
    latest_version: int | None
    version_count: int
    aliases: Mapping[str, int] = field(default_factory=dict)
    states: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "latest_version": self.latest_version,
            "version_count": self.version_count,
            "aliases": dict(self.aliases),
            "states": dict(self.states),
        }


RouteMode = Literal["live", "shadow"]


@dataclass(frozen=True)
class Route:
    """An endpoint sending traffic to a model version (registered by serving)."""

    project: str
    endpoint: str
    name: str
    version: int
    model_version_id: str
    weight: float
    mode: str
    registered_at: datetime
    registered_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def describe(self) -> str:
        """``endpoint 'acs-prod' (live, weight 0.9)``"""
        return f"endpoint {self.endpoint!r} ({self.mode}, weight {self.weight:g})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "endpoint": self.endpoint,
            "model": self.ref,
            "model_version_id": self.model_version_id,
            "weight": self.weight,
            "mode": self.mode,
            "registered_at": self.registered_at.isoformat(),
            "registered_by": self.registered_by,
        }
