"""``st.models``: the registry in the Python SDK."""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping, Sequence
from typing import Any

from mlsteward.registry._lineage import Lineage, lineage
from mlsteward.registry._package import Bundle, package_model
from mlsteward.registry._predictor import Predictor, load_model
from mlsteward.registry._records import ModelAlias, ModelVersion, RegisteredModel
from mlsteward.registry._register import register_model
from mlsteward.registry._service import (
    delete_alias,
    deprecate_version,
    get_model,
    list_models,
    list_versions,
    resolve_model,
    retire_version,
    set_alias,
)
from mlsteward.registry._signature import Signature
from mlsteward.registry._validate import DomainMode
from mlsteward.store import Store

__all__ = ["Models"]


class Models:
    """Registered models of one store. ``project`` may be left out when the store has
    exactly one project.

    >>> v = st.models.register("acs", run=run.id)  # doctest: +SKIP
    >>> st.models.alias("acs@1", "champion", reason="best ROC AUC")  # doctest: +SKIP
    >>> st.load_model("acs@champion").predict(rows)  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def register(
        self,
        name: str,
        *,
        project: str | None = None,
        model: Any = None,
        run: Any = None,
        artifact: str | None = None,
        file: str | os.PathLike[str] | None = None,
        format: str | None = None,
        trust: bool = False,
        datasets: Sequence[Any] | None = None,
        input_example: Any = None,
        signature: Signature | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str = "",
        alias: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Register a new version from ``run`` (its logged model), ``file`` or ``model``
        (a fitted estimator, or a candidate returned by ``run.log_model``)."""
        return register_model(
            self._store,
            name,
            project=project,
            model=model,
            run=run,
            artifact=artifact,
            file=file,
            format=format,
            trust=trust,
            datasets=datasets,
            input_example=input_example,
            signature=signature,
            metrics=metrics,
            description=description,
            alias=alias,
            reason=reason,
        )

    def get(self, ref: str, *, project: str | None = None) -> ModelVersion:
        """The version ``NAME@VERSION``, ``NAME@ALIAS`` or ``NAME@latest`` names."""
        return resolve_model(self._store, project, ref)

    def model(self, name: str, *, project: str | None = None) -> RegisteredModel:
        return get_model(self._store, project, name)

    def list(self, *, project: str | None = None) -> list[RegisteredModel]:
        """Models of the project, by name."""
        return list_models(self._store, project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[ModelVersion]:
        """Versions of a model, oldest first."""
        return list_versions(self._store, project, name)

    def alias(self, ref: str, alias: str, *, reason: str, project: str | None = None) -> ModelAlias:
        """Point ``alias`` at the version ``ref`` names (audited with ``reason``)."""
        return set_alias(self._store, project, ref, alias, reason=reason)

    def delete_alias(
        self, name: str, alias: str, *, reason: str, project: str | None = None
    ) -> ModelAlias:
        return delete_alias(self._store, project, name, alias, reason=reason)

    def deprecate(self, ref: str, *, reason: str, project: str | None = None) -> ModelVersion:
        return deprecate_version(self._store, project, ref, reason=reason)

    def retire(self, ref: str, *, reason: str, project: str | None = None) -> ModelVersion:
        """Retire a version (refused while an endpoint routes to it or an alias names it)."""
        return retire_version(self._store, project, ref, reason=reason)

    def lineage(self, ref: str, *, project: str | None = None) -> Lineage:
        return lineage(self._store, project, ref)

    def load(
        self, ref: str, *, project: str | None = None, domain: DomainMode = "strict"
    ) -> Predictor:
        return load_model(self._store, project, ref, domain=domain)

    def package(
        self,
        ref: str,
        out_dir: str | os.PathLike[str],
        *,
        project: str | None = None,
        overwrite: bool = False,
    ) -> Bundle:
        return package_model(self._store, project, ref, out_dir, overwrite=overwrite)

    def __repr__(self) -> str:
        return f"Models({self._store!r})"
