"""Predictors: a loaded model behind its signature.

``st.load_model("acs@champion")`` resolves the reference, reads the artifact (verifying
its content hash), loads it by the format's trust rules and wraps it in a
:class:`Predictor`, whose ``predict`` and ``predict_proba`` accept a DataFrame, a list of
dicts or one dict, check it against the signature (see :mod:`._validate` for what is an
error and what a warning) and give the model its columns in the order it was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlsteward.core import InvalidInput
from mlsteward.registry._formats import load_artifact
from mlsteward.registry._records import ModelVersion
from mlsteward.registry._service import default_project, resolve_model
from mlsteward.registry._signature import Signature
from mlsteward.registry._validate import CheckedInput, DomainMode, check_domain_mode, check_input
from mlsteward.store import Store

__all__ = ["Predictor", "load_model", "load_version"]


class Predictor:
    """A model with its signature. ``model`` is the underlying estimator (a scikit-learn
    estimator, an XGBoost model, a :class:`LightGBMModel`, ...); ``model_version`` the
    registry's record (None for a bundle loaded outside a store)."""

    def __init__(
        self,
        model: Any,
        signature: Signature,
        *,
        ref: str,
        model_version: ModelVersion | None = None,
        domain: DomainMode = "strict",
    ) -> None:
        self.model = model
        self.signature = signature
        self.ref = ref
        self.model_version = model_version
        self.domain: DomainMode = check_domain_mode(domain)

    @property
    def classes(self) -> list[Any] | None:
        classes = self.signature.classes
        return None if classes is None else list(classes)

    @property
    def columns(self) -> list[str]:
        return self.signature.names

    def check(self, data: Any, *, domain: DomainMode | None = None) -> CheckedInput:
        """Check ``data`` against the signature; return what the model would receive."""
        return check_input(
            self.signature, data, model=self.ref, domain=self.domain if domain is None else domain
        )

    def _call(self, method: str, data: Any, domain: DomainMode | None) -> np.ndarray:
        checked = self.check(data, domain=domain)
        function = getattr(self.model, method, None)
        if function is None:
            raise InvalidInput(
                f"Model {self.ref} ({type(self.model).__name__}) has no {method}: "
                + (
                    "it is not a classifier; use predict."
                    if method == "predict_proba"
                    else "it cannot predict."
                )
            )
        try:
            return np.asarray(function(checked.data))
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                f"Model {self.ref} failed on the input after it passed the signature check: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def predict(self, data: Any, *, domain: DomainMode | None = None) -> np.ndarray:
        """Predictions for a DataFrame, a list of dicts (one per row) or one dict."""
        return self._call("predict", data, domain)

    def predict_proba(self, data: Any, *, domain: DomainMode | None = None) -> np.ndarray:
        """Class probabilities (columns in the order of :attr:`classes`)."""
        return self._call("predict_proba", data, domain)

    def __repr__(self) -> str:
        return (
            f"Predictor({self.ref!r}, {type(self.model).__name__}, "
            f"{len(self.signature.inputs)} inputs, domain={self.domain!r})"
        )


def load_version(store: Store, version: ModelVersion) -> Any:
    """The estimator of ``version``, its artifact verified against the recorded digest."""
    label = f"{version.project}/{version.ref}"
    data = store.artifacts.get(version.artifact_digest, name=f"model {label}")
    return load_artifact(
        data, version.format, dict(version.meta), label=label, trusted=version.pickle_trusted
    )


def load_model(
    store: Store, project: str | None, ref: str, *, domain: DomainMode = "strict"
) -> Predictor:
    """A :class:`Predictor` for ``ref`` (``NAME@VERSION``, ``NAME@ALIAS``, ``NAME@latest``)
    in ``project`` (the store's only project when None)."""
    check_domain_mode(domain)
    version = resolve_model(store, default_project(store, project), ref)
    model = load_version(store, version)
    return Predictor(
        model, version.signature, ref=version.ref, model_version=version, domain=domain
    )
