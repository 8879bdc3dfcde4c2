"""The artifact store: immutable content-addressed objects and named objects, over fsspec.

Immutable artifacts are addressed by the SHA-256 of their bytes (``sha256:<hex>``), stored
under ``objects/<2 hex>/<62 hex>``, and verified on every read. Named objects (``write`` /
``read``) are for the few mutable files (indexes, prediction-log segments are immutable too).
"""

from __future__ import annotations

import abc
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mlsteward.core import IntegrityViolation, InvalidInput, MissingDependency, NotFound

__all__ = ["ArtifactStore", "FsspecArtifactStore", "open_artifact_store"]

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 1 << 20


def _check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidInput(
            f"Invalid artifact digest {digest!r}: expected 'sha256:' followed by 64 lowercase "
            "hex digits, as returned by ArtifactStore.put."
        )
    return digest


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in {"", ".", ".."} for p in parts):
        raise InvalidInput(
            f"Invalid artifact key {key!r}: expected a relative '/'-separated path "
            "without empty, '.' or '..' parts, e.g. 'reports/eval.html'."
        )
    return key


class ArtifactStore(abc.ABC):
    """Where artifact bytes live.

    Contract for implementations of the five primitives:
    - ``_put_bytes`` / ``_put_file`` are atomic: a reader sees the whole object or nothing,
      never a partial one, even if the writer dies midway;
    - ``_open_read`` raises :class:`FileNotFoundError` for a missing key;
    - ``_list`` returns keys (relative to the store root) under a prefix, sorted;
    - every method is safe to call from several threads and processes at once.
    Content addressing and verification are built on these by this base class.
    """

    uri: str

    @abc.abstractmethod
    def _put_bytes(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def _put_file(self, key: str, path: Path) -> None: ...

    @abc.abstractmethod
    def _open_read(self, key: str) -> IO[bytes]: ...

    @abc.abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def _delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def _list(self, prefix: str) -> list[str]: ...

    # -- content-addressed, immutable -------------------------------------------------
    @staticmethod
    def _object_key(digest: str) -> str:
        hexdigest = _check_digest(digest).split(":", 1)[1]
        return f"objects/{hexdigest[:2]}/{hexdigest[2:]}"

    def put(self, data: bytes) -> str:
        """Store bytes once; return their digest ``sha256:<hex>``."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        key = self._object_key(digest)
        if not self._exists(key):
            self._put_bytes(key, data)
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a file (streamed, never read whole into memory); return its digest."""
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"Cannot store {source}: no such file.")
        sha = hashlib.sha256()
        with source.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                sha.update(chunk)
        digest = "sha256:" + sha.hexdigest()
        key = self._object_key(digest)
        if not self._exists(key):
            self._put_file(key, source)
        return digest

    def has(self, digest: str) -> bool:
        return self._exists(self._object_key(digest))

    def get(self, digest: str, *, name: str | None = None) -> bytes:
        """The bytes of an artifact, verified against its digest.

        ``name`` is used in error messages (e.g. ``model acs@3``).
        """
        label = f"{name} ({digest})" if name else digest
        try:
            with self._open_read(self._object_key(digest)) as handle:
                data = handle.read()
        except FileNotFoundError as exc:
            raise NotFound(
                f"Artifact {label} is missing from the artifact store {self.uri}."
            ) from exc
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise IntegrityViolation(
                f"Artifact {label} is corrupted: its content hashes to {actual}. "
                f"Restore it from a backup of {self.uri}."
            )
        return data

    def get_to_file(
        self, digest: str, path: str | os.PathLike[str], *, name: str | None = None
    ) -> Path:
        """Stream an artifact to ``path`` (atomically), verifying its digest."""
        label = f"{name} ({digest})" if name else digest
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        sha = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".steward-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    with self._open_read(self._object_key(digest)) as handle:
                        for chunk in iter(lambda: handle.read(_CHUNK), b""):
                            sha.update(chunk)
                            out.write(chunk)
                except FileNotFoundError as exc:
                    raise NotFound(
                        f"Artifact {label} is missing from the artifact store {self.uri}."
                    ) from exc
            actual = "sha256:" + sha.hexdigest()
            if actual != digest:
                raise IntegrityViolation(
                    f"Artifact {label} is corrupted: its content hashes to {actual}. "
                    f"Restore it from a backup of {self.uri}."
                )
            os.replace(tmp_name, target)
        except BaseException:
            with _suppress_missing():
                os.unlink(tmp_name)
            raise
        return target

    # -- named objects -----------------------------------------------------------------
    def write(self, key: str, data: bytes) -> None:
        """Write a named object atomically (replacing any previous content)."""
        self._put_bytes(_check_key(key), data)

    def write_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self._put_file(_check_key(key), Path(path))

    def read(self, key: str) -> bytes:
        try:
            with self._open_read(_check_key(key)) as handle:
                return handle.read()
        except FileNotFoundError as exc:
            raise NotFound(f"No artifact named {key!r} in the artifact store {self.uri}.") from exc

    def open(self, key: str) -> IO[bytes]:
        """A binary file object for streaming reads of a named object."""
        try:
            return self._open_read(_check_key(key))
        except FileNotFoundError as exc:
            raise NotFound(f"No artifact named {key!r} in the artifact store {self.uri}.") from exc

    def exists(self, key: str) -> bool:
        return self._exists(_check_key(key))

    def delete(self, key: str) -> None:
        self._delete(_check_key(key))

    def list(self, prefix: str = "") -> list[str]:
        if prefix:
            _check_key(prefix.rstrip("/"))
        return self._list(prefix)

    def iter_objects(self) -> Iterator[str]:
        """Digests of every content-addressed object."""
        for key in self._list("objects/"):
            parts = key.split("/")
            if len(parts) == 3:
                yield f"sha256:{parts[1]}{parts[2]}"


class _suppress_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return exc_type is not None and issubclass(exc_type, FileNotFoundError)


class FsspecArtifactStore(ArtifactStore):
    """Artifacts on any fsspec filesystem: a local directory, or S3 through s3fs.

    Atomicity: on a local filesystem a write goes to a temporary file in the same
    directory, then is renamed over the target; on object stores a single PUT is atomic.
    """

    def __init__(self, uri: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.uri = uri
        try:
            fs, root = fsspec.core.url_to_fs(uri, **(storage_options or {}))
        except ImportError as exc:
            scheme = uri.split("://", 1)[0]
            extra = "s3" if scheme in {"s3", "s3a"} else scheme
            raise MissingDependency(
                f"Using the {scheme} artifact store {uri!r} needs its fsspec driver: "
                f"pip install 'mlsteward[{extra}]'"
            ) from exc
        except ValueError as exc:
            raise InvalidInput(
                f"Config 'STEWARD_ARTIFACTS' is not a usable location: {uri!r} ({exc}). "
                "Expected a local directory or s3://bucket/prefix."
            ) from exc
        self._fs = fs
        self._root = root.rstrip("/")
        self._local = isinstance(fs, LocalFileSystem)
        if self._local:
            Path(self._root).mkdir(parents=True, exist_ok=True)

    @property
    def is_local(self) -> bool:
        return self._local

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def local_path(self, key: str) -> Path | None:
        """The file behind ``key`` when the store is local (for zero-copy readers)."""
        return Path(self._path(key)) if self._local else None

    def _put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if self._local:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".steward-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                with _suppress_missing():
                    os.unlink(tmp)
                raise
        else:
            self._fs.pipe_file(path, data)

    def _put_file(self, key: str, path: Path) -> None:
        target_path = self._path(key)
        if self._local:
            import shutil

            target = Path(target_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".steward-", suffix=".tmp")
            os.close(fd)
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, target)
            except BaseException:
                with _suppress_missing():
                    os.unlink(tmp)
                raise
        else:
            self._fs.put_file(str(path), target_path)

    def _open_read(self, key: str) -> IO[bytes]:
        handle: IO[bytes] = self._fs.open(self._path(key), "rb")
        return handle

    def _exists(self, key: str) -> bool:
        return bool(self._fs.exists(self._path(key)))

    def _delete(self, key: str) -> None:
        path = self._path(key)
        if self._fs.exists(path):
            self._fs.rm_file(path)

    def _list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/")) if prefix else self._root
        if not self._fs.exists(base):
            return []
        if self._fs.isfile(base):
            return [prefix.rstrip("/")]
        found = self._fs.find(base)
        root = self._root + "/"
        keys = []
        for item in found:
            text = str(item)
            if not self._local and not text.startswith(root) and root.lstrip("/") in text:
                text = "/" + text if root.startswith("/") else text
            rel = text[len(root) :] if text.startswith(root) else text
            if rel.split("/")[-1].startswith(".steward-"):
                continue  # an unfinished temporary write
            keys.append(rel)
        return sorted(keys)


def open_artifact_store(uri: str, storage_options: dict[str, Any] | None = None) -> ArtifactStore:
    """The artifact store at ``uri`` (a local path, file://, or s3://bucket/prefix)."""
    return FsspecArtifactStore(uri, storage_options)
