"""The layers of DESIGN.md hold: each package imports only packages below it in the
lifecycle order, and another package only through its public names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "mlsteward"
# lowest first; a package may import only the ones before it
ORDER = [
    "_version",
    "core",
    "store",
    "projects",
    "reports",
    "datasets",
    "charter",
    "data",
    "tracking",
    "registry",
    "evaluation",
    "serving",
    "monitoring",
    "client",
    "demo",
    "cli",
]


def _imports() -> list[tuple[str, str, str, int]]:
    """``(importing package, imported module, file, line)`` for every mlsteward import."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE).parts
        package = parts[0] if len(parts) > 1 else path.stem
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                if module.startswith("mlsteward."):
                    found.append((package, module, str(path.relative_to(SOURCE)), node.lineno))
    return found


IMPORTS = _imports()


def test_every_package_has_a_place_in_the_order() -> None:
    packages = {p.name for p in SOURCE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ORDER), sorted(packages - set(ORDER))


@pytest.mark.parametrize("package", [p for p in ORDER if p != "_version"])
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = set(ORDER[: ORDER.index(package)])
    wrong = [
        f"{where}:{line} imports {module}"
        for importer, module, where, line in IMPORTS
        if importer == package
        and module.split(".")[1] != package
        and module.split(".")[1] not in allowed
    ]
    assert not wrong, wrong


def test_other_packages_are_imported_through_their_public_names() -> None:
    private = [
        f"{where}:{line} imports {module}"
        for importer, module, where, line in IMPORTS
        if module.split(".")[1] != importer
        and any(part.startswith("_") for part in module.split(".")[2:])
    ]
    assert not private, private
