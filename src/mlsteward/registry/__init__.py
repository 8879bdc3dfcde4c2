"""Registry: registered models, immutable versions, aliases, signatures, safe model formats,
bundles, retirement, and the routes serving registers.

``NAME@VERSION``, ``NAME@ALIAS`` and ``NAME@latest`` name a version everywhere
(:func:`resolve_model`). Artifacts are loaded only in formats that are data, not code
(skops with Steward's :data:`TRUSTED_TYPES`, XGBoost and LightGBM native formats);
pickle-based artifacts need an explicit, audited ``trust=True``.
"""

from mlsteward.registry._api import Models
from mlsteward.registry._formats import (
    FORMATS,
    PICKLE_FORMATS,
    SAFE_FORMATS,
    TRUSTED_TYPES,
    LightGBMModel,
    check_trusted_types,
)
from mlsteward.registry._lineage import (
    Lineage,
    LineageNode,
    LineageProvider,
    add_lineage_provider,
    lineage,
)
from mlsteward.registry._package import (
    BUNDLE_FORMAT,
    Bundle,
    BundleCheck,
    BundleProblem,
    check_bundle,
    load_bundle,
    package_model,
    verify_bundle,
)
from mlsteward.registry._pipeline import pipeline_summary
from mlsteward.registry._predictor import Predictor, load_model, load_version
from mlsteward.registry._records import (
    CharterRef,
    DatasetRef,
    ModelAlias,
    ModelRef,
    ModelVersion,
    RegisteredModel,
    Route,
    VersionState,
    parse_model_ref,
)
from mlsteward.registry._register import register_model
from mlsteward.registry._routes import (
    ROUTE_MODES,
    RouteSpec,
    list_routes,
    register_route,
    set_routes,
    unregister_route,
)
from mlsteward.registry._service import (
    check_deployable,
    delete_alias,
    deprecate_version,
    get_model,
    list_models,
    list_versions,
    resolve_model,
    retire_version,
    set_alias,
)
from mlsteward.registry._signature import ColumnSpec, OutputSpec, Signature
from mlsteward.registry._validate import (
    DOMAIN_MODES,
    CheckedInput,
    DomainMode,
    DomainWarning,
    InputProblem,
    SignatureMismatch,
    check_input,
)

__all__ = [
    "BUNDLE_FORMAT",
    "DOMAIN_MODES",
    "FORMATS",
    "PICKLE_FORMATS",
    "ROUTE_MODES",
    "SAFE_FORMATS",
    "TRUSTED_TYPES",
    "Bundle",
    "BundleCheck",
    "BundleProblem",
    "CharterRef",
    "CheckedInput",
    "ColumnSpec",
    "DatasetRef",
    "DomainMode",
    "DomainWarning",
    "InputProblem",
    "LightGBMModel",
    "Lineage",
    "LineageNode",
    "LineageProvider",
    "ModelAlias",
    "ModelRef",
    "ModelVersion",
    "Models",
    "OutputSpec",
    "Predictor",
    "RegisteredModel",
    "Route",
    "RouteSpec",
    "Signature",
    "SignatureMismatch",
    "VersionState",
    "add_lineage_provider",
    "check_bundle",
    "check_deployable",
    "check_input",
    "check_trusted_types",
    "delete_alias",
    "deprecate_version",
    "get_model",
    "lineage",
    "list_models",
    "list_routes",
    "list_versions",
    "load_bundle",
    "load_model",
    "load_version",
    "package_model",
    "parse_model_ref",
    "pipeline_summary",
    "register_model",
    "register_route",
    "resolve_model",
    "retire_version",
    "set_alias",
    "set_routes",
    "unregister_route",
    "verify_bundle",
]
