"""Bundles: a model version packaged as a self-contained directory.

``steward package NAME@V -o DIR`` writes::

    DIR/
      manifest.json       the bundle's identity and the sha256 of every other file
      model/<artifact>    the model artifact, in its registered format
      signature.json      input and output signature
      pipeline.json       the feature pipeline's steps
      model.json          the version's record: run, datasets, metrics, params, state
      charter.json        the charter version in force at registration (or none)
      requirements.txt    packages pinned to the versions used in training
      MODEL_CARD.md       a model card stub to complete
      Dockerfile          an image that serves the bundle with ``steward serve``

:func:`verify_bundle` recomputes every hash and reports each missing, changed or extra
file; :func:`load_bundle` verifies, then loads the model by the same trust rules as the
registry (a pickle-based bundle needs ``trust=True``) and returns a :class:`Predictor`.
The manifest's own sha256 is recorded in the audit trail (``model.package``) so that a
rewritten manifest can be told apart from the one Steward wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mlsteward._version import __version__
from mlsteward.core import AlreadyExists, IntegrityViolation, InvalidInput, NotFound, utcnow
from mlsteward.registry._cards import dockerfile, model_card
from mlsteward.registry._formats import PICKLE_FORMATS, load_artifact
from mlsteward.registry._predictor import Predictor
from mlsteward.registry._records import ModelVersion
from mlsteward.registry._requirements import requirements_txt
from mlsteward.registry._service import default_project, entity_id, resolve_model
from mlsteward.registry._signature import Signature
from mlsteward.registry._validate import DomainMode
from mlsteward.store import Store

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "BundleCheck",
    "BundleProblem",
    "check_bundle",
    "load_bundle",
    "package_model",
    "verify_bundle",
]

BUNDLE_FORMAT: Final = "mlsteward.bundle"
BUNDLE_FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A written bundle: where it is, its manifest and the manifest's own digest."""

    directory: Path
    manifest: dict[str, Any]
    manifest_digest: str

    @property
    def files(self) -> list[str]:
        return sorted(self.manifest["files"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "manifest_digest": self.manifest_digest,
            "model": self.manifest["model"]["ref"],
            "files": self.manifest["files"],
        }


@dataclass(frozen=True)
class BundleProblem:
    """A file that is ``missing``, ``changed`` (hash differs), ``extra`` (not in the
    manifest), or a ``manifest`` that cannot be read."""

    path: str
    kind: str
    expected: str | None = None
    actual: str | None = None

    def describe(self) -> str:
        if self.kind == "missing":
            return f"{self.path}: missing (the manifest lists it with {self.expected})"
        if self.kind == "changed":
            return f"{self.path}: changed (manifest {self.expected}, file {self.actual})"
        if self.kind == "extra":
            return f"{self.path}: extra file, not in the manifest"
        return f"{self.path}: {self.actual}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.describe(),
        }


@dataclass(frozen=True)
class BundleCheck:
    """The result of :func:`verify_bundle`."""

    directory: Path
    problems: tuple[BundleProblem, ...]
    manifest_digest: str | None
    model: str | None
    files: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "model": self.model,
            "files": self.files,
            "manifest_digest": self.manifest_digest,
            "problems": [p.to_dict() for p in self.problems],
        }


def _write(directory: Path, rel: str, content: bytes | str) -> None:
    target = directory / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    target.write_bytes(data)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


def _charter_document(store: Store, version: ModelVersion) -> dict[str, Any]:
    if version.charter is None:
        return {
            "charter": None,
            "note": "The project had no charter when this version was registered.",
        }
    from mlsteward.charter import get_charter

    record = get_charter(store, version.project, version.charter.version)
    return {"reference": version.charter.to_dict(), **record.to_dict()}


def _prepare_target(out_dir: Path, overwrite: bool) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise AlreadyExists(f"{out_dir} exists and is not a directory; choose another -o DIR.")
    if not any(out_dir.iterdir()):
        out_dir.rmdir()
        return
    if not overwrite:
        raise AlreadyExists(
            f"{out_dir} exists and is not empty. Choose another directory, or pass "
            "overwrite=True (--force) to replace a bundle there."
        )
    if not (out_dir / MANIFEST).is_file():
        raise AlreadyExists(
            f"{out_dir} is not a Steward bundle (no {MANIFEST}); Steward only replaces "
            "bundles. Choose another directory."
        )
    shutil.rmtree(out_dir)


def package_model(
    store: Store,
    project: str | None,
    ref: str,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Bundle:
    """Write the bundle of the version ``ref`` names to ``out_dir`` (see the module
    docstring); audited as ``model.package``."""
    version = resolve_model(store, default_project(store, project), ref)
    if version.format in PICKLE_FORMATS and not version.pickle_trusted:  # pragma: no cover
        raise InvalidInput(f"Model {version.ref} has a pickle artifact that nobody trusted.")
    target = Path(out_dir).resolve()
    label = f"model {version.project}/{version.ref}"
    artifact = store.artifacts.get(version.artifact_digest, name=label)
    artifact_path = f"model/{version.artifact_filename}"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".steward-bundle-", dir=target.parent))
    try:
        requirements = dict(version.requirements)
        _write(staging, artifact_path, artifact)
        _write(staging, "signature.json", version.signature.to_json() + "\n")
        _write(staging, "pipeline.json", _dump(dict(version.pipeline)))
        _write(staging, "model.json", _dump(version.to_dict()))
        _write(staging, "charter.json", _dump(_charter_document(store, version)))
        _write(staging, "requirements.txt", requirements_txt(requirements))
        _write(staging, "MODEL_CARD.md", model_card(version))
        _write(staging, "Dockerfile", dockerfile(version, str(requirements.get("python", ""))))
        files = {
            p.relative_to(staging).as_posix(): _sha256(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "created_at": utcnow().isoformat(),
            "created_by": store.actor,
            "steward_version": __version__,
            "model": {
                "project": version.project,
                "name": version.name,
                "version": version.version,
                "ref": version.ref,
                "id": version.id,
                "state": version.state,
                "flavor": version.flavor,
                "format": version.format,
                "artifact": artifact_path,
                "artifact_digest": version.artifact_digest,
                "pickle_trusted": version.pickle_trusted,
                "meta": dict(version.meta),
            },
            "files": files,
        }
        _write(staging, MANIFEST, _dump(manifest))
        digest = _sha256(staging / MANIFEST)
        _prepare_target(target, overwrite)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with store.transaction() as tx:
        tx.audit(
            "model.package",
            "model",
            entity_id(version.project, version.name),
            {
                "version": version.version,
                "directory": str(target),
                "manifest_digest": digest,
                "artifact_digest": version.artifact_digest,
            },
        )
    return Bundle(target, manifest, digest)


def _read_manifest(directory: Path) -> tuple[dict[str, Any] | None, str | None]:
    path = directory / MANIFEST
    if not path.is_file():
        return None, f"missing: {directory} is not a Steward bundle"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        return None, f"not a Steward bundle manifest (expected format {BUNDLE_FORMAT!r})"
    if manifest.get("format_version") != BUNDLE_FORMAT_VERSION:
        return None, (
            f"bundle format version {manifest.get('format_version')!r} is not supported "
            f"(this Steward reads version {BUNDLE_FORMAT_VERSION})"
        )
    if not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("model"), dict):
        return None, "malformed: 'files' and 'model' must be objects"
    return manifest, None


def verify_bundle(directory: str | os.PathLike[str]) -> BundleCheck:
    """Recompute the hash of every file of a bundle against its manifest."""
    root = Path(directory)
    if not root.is_dir():
        raise NotFound(f"No bundle at {root}: no such directory.")
    manifest, error = _read_manifest(root)
    if manifest is None:
        return BundleCheck(
            root, (BundleProblem(MANIFEST, "manifest", actual=error),), None, None, 0
        )
    listed: dict[str, str] = {str(k): str(v) for k, v in manifest["files"].items()}
    problems: list[BundleProblem] = []
    present = {
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()
    }
    for rel, expected in sorted(listed.items()):
        path = root / rel
        if rel not in present or not path.is_file():
            problems.append(BundleProblem(rel, "missing", expected))
            continue
        actual = _sha256(path)
        if actual != expected:
            problems.append(BundleProblem(rel, "changed", expected, actual))
    for rel in sorted(present - set(listed) - {MANIFEST}):
        problems.append(BundleProblem(rel, "extra"))
    return BundleCheck(
        root,
        tuple(problems),
        _sha256(root / MANIFEST),
        str(manifest["model"].get("ref")),
        len(listed),
    )


def check_bundle(directory: str | os.PathLike[str]) -> BundleCheck:
    """:func:`verify_bundle`, raising :class:`IntegrityViolation` naming every problem."""
    result = verify_bundle(directory)
    if not result.ok:
        listed = "; ".join(p.describe() for p in result.problems)
        raise IntegrityViolation(
            f"Bundle {result.directory} failed verification ({len(result.problems)} "
            f"problem{'s' if len(result.problems) != 1 else ''}): {listed}. The bundle was "
            "modified after Steward wrote it; package the model again (steward package "
            "NAME@VERSION -o DIR)."
        )
    return result


def load_bundle(
    directory: str | os.PathLike[str], *, trust: bool = False, domain: DomainMode = "strict"
) -> Predictor:
    """Verify a bundle and return a :class:`Predictor` for its model. A pickle-based
    bundle loads only with ``trust=True``."""
    root = Path(directory)
    check_bundle(root)
    manifest, _ = _read_manifest(root)
    assert manifest is not None
    model_info = manifest["model"]
    artifact = (root / model_info["artifact"]).read_bytes()
    ref = str(model_info.get("ref"))
    model = load_artifact(
        artifact,
        str(model_info["format"]),
        dict(model_info.get("meta") or {}),
        label=f"bundle {root} ({ref})",
        trusted=trust,
    )
    signature = Signature.from_json((root / "signature.json").read_bytes())
    return Predictor(model, signature, ref=ref, domain=domain)
