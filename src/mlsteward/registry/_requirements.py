"""Requirements of a model: the packages it needs, pinned to the versions used in training.

The versions come from the environment the source run recorded (tracking stores the
installed distributions of the training process); without a run, from this process. Only
what loading and calling the model needs is kept: the model's framework, numpy, scipy,
pandas, skops for scikit-learn, and mlsteward itself.

>>> pins = requirements_for("sklearn", {"scikit-learn": "1.5.0", "numpy": "2.0.0",
...     "flask": "3.0", "skops": "0.10"}, python="3.11.9")
>>> pins["packages"]
{'numpy': '2.0.0', 'scikit-learn': '1.5.0', 'skops': '0.10'}
>>> requirements_txt(pins).splitlines()[1]
'numpy==2.0.0'
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Final

__all__ = ["FLAVOR_PACKAGES", "current_packages", "requirements_for", "requirements_txt"]

_COMMON: Final = ("numpy", "scipy", "pandas", "mlsteward")
FLAVOR_PACKAGES: Final[dict[str, tuple[str, ...]]] = {
    "sklearn": ("scikit-learn", "skops", *_COMMON),
    "xgboost": ("xgboost", "scikit-learn", *_COMMON),
    "lightgbm": ("lightgbm", *_COMMON),
    "python": ("scikit-learn", "joblib", *_COMMON),
}
"""Distributions each flavor needs (``xgboost`` also matches ``xgboost-cpu``)."""

_ALTERNATIVES: Final = {"xgboost": ("xgboost", "xgboost-cpu")}


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def current_packages(names: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of ``names`` (all known flavors' packages when empty)."""
    wanted = set(names) or {n for ns in FLAVOR_PACKAGES.values() for n in ns}
    for name in list(wanted):
        wanted.update(_ALTERNATIVES.get(name, ()))
    out: dict[str, str] = {}
    for name in sorted(wanted):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def requirements_for(
    flavor: str, packages: Mapping[str, str], *, python: str | None = None
) -> dict[str, Any]:
    """``{"python": ..., "packages": {name: version}}`` restricted to what ``flavor`` needs."""
    installed = {_normal(k): v for k, v in packages.items()}
    pins: dict[str, str] = {}
    for name in FLAVOR_PACKAGES.get(flavor, _COMMON):
        for candidate in _ALTERNATIVES.get(name, (name,)):
            if candidate in installed:
                pins[candidate] = installed[candidate]
                break
    return {
        "python": python or platform.python_version(),
        "packages": dict(sorted(pins.items())),
    }


def requirements_txt(requirements: Mapping[str, Any]) -> str:
    """A pip requirements file pinning every package."""
    lines = [f"# Pinned to the versions used in training (Python {requirements.get('python')})"]
    for name, version in dict(requirements.get("packages", {})).items():
        lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"
