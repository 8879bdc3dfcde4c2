"""Conformance suite of the artifact store, run on a local directory and on S3 (moto).

A new artifact backend is done when this file passes against it (STYLE.md habit 2).
Corruption is made behind the store's back: by writing the file on disk, or by a PUT
with boto3 straight to the bucket.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import mlsteward as ms
from mlsteward.store import ArtifactStore, FsspecArtifactStore, open_artifact_store


@dataclass
class Backend:
    """An artifact store plus raw access to the bytes behind it."""

    store: ArtifactStore
    raw_write: Callable[[str, bytes], None]
    raw_keys: Callable[[], list[str]]


def _local_backend(root: Path) -> Backend:
    store = open_artifact_store(str(root))

    def raw_write(key: str, data: bytes) -> None:
        (root / key).write_bytes(data)

    def raw_keys() -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    return Backend(store, raw_write, raw_keys)


def _s3_backend(uri: str, options: dict[str, Any]) -> Backend:
    import boto3

    store = open_artifact_store(uri, options)
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=options["client_kwargs"]["endpoint_url"],
        aws_access_key_id=options["key"],
        aws_secret_access_key=options["secret"],
    )

    def raw_write(key: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=data)

    def raw_keys() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")
        return sorted(o["Key"].removeprefix(f"{prefix}/") for o in listed.get("Contents", []))

    return Backend(store, raw_write, raw_keys)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return _local_backend(tmp_path / "artifacts")
    uri, options = request.getfixturevalue("s3_bucket")
    return _s3_backend(uri, options)


@pytest.fixture
def local(tmp_path: Path) -> Backend:
    return _local_backend(tmp_path / "artifacts")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _object_key(digest: str) -> str:
    hexdigest = digest.removeprefix("sha256:")
    return f"objects/{hexdigest[:2]}/{hexdigest[2:]}"


# -- content-addressed objects ---------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"hello", bytes(range(256)) * 1000])
def test_put_get_round_trip(backend: Backend, data: bytes) -> None:
    digest = backend.store.put(data)
    assert digest == sha(data)
    assert backend.store.has(digest)
    assert backend.store.get(digest) == data
    assert backend.raw_keys() == [_object_key(digest)]


def test_same_bytes_give_the_same_digest_and_one_object(backend: Backend) -> None:
    first = backend.store.put(b"model weights")
    second = backend.store.put(b"model weights")
    other = backend.store.put(b"other weights")
    assert first == second != other
    assert backend.raw_keys() == sorted([_object_key(first), _object_key(other)])
    assert sorted(backend.store.iter_objects()) == sorted([first, other])


def test_has_is_false_for_an_absent_object(backend: Backend) -> None:
    assert not backend.store.has(sha(b"never stored"))
    assert list(backend.store.iter_objects()) == []


def test_put_file_and_get_to_file_stream(backend: Backend, tmp_path: Path) -> None:
    data = os.urandom(2 * (1 << 20) + 12_345)  # more than two read chunks, not a multiple
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    digest = backend.store.put_file(source)
    assert digest == sha(data)
    assert backend.store.put_file(source) == digest
    assert backend.raw_keys() == [_object_key(digest)]
    target = tmp_path / "out" / "deep" / "model.bin"
    assert backend.store.get_to_file(digest, target) == target
    assert target.read_bytes() == data
    assert [p.name for p in target.parent.iterdir()] == ["model.bin"]  # no temporary left
    assert backend.store.get(digest) == data


def test_put_file_of_a_missing_file_is_not_found(backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(ms.NotFound, match="no such file"):
        backend.store.put_file(tmp_path / "absent.bin")


def test_missing_object_is_not_found_naming_it(backend: Backend, tmp_path: Path) -> None:
    digest = sha(b"never stored")
    with pytest.raises(ms.NotFound) as info:
        backend.store.get(digest, name="model acs@3")
    assert f"Artifact model acs@3 ({digest}) is missing" in str(info.value)
    assert backend.store.uri in str(info.value)
    with pytest.raises(LookupError, match=digest):
        backend.store.get_to_file(digest, tmp_path / "x.bin")
    assert list(tmp_path.glob("*.tmp")) == []
    assert not (tmp_path / "x.bin").exists()


@pytest.mark.parametrize("how", ["flipped byte", "truncated", "replaced"])
def test_a_corrupted_object_raises_integrity_violation_naming_it(
    backend: Backend, tmp_path: Path, how: str
) -> None:
    data = b"the real model bytes " * 100
    digest = backend.store.put(data)
    corrupt = {
        "flipped byte": data[:50] + bytes([data[50] ^ 1]) + data[51:],
        "truncated": data[:-7],
        "replaced": b"something else entirely",
    }[how]
    backend.raw_write(_object_key(digest), corrupt)
    with pytest.raises(ms.IntegrityViolation) as info:
        backend.store.get(digest, name="model acs@3")
    message = str(info.value)
    assert f"Artifact model acs@3 ({digest}) is corrupted" in message
    assert "Restore it from a backup" in message
    target = tmp_path / "restored" / "model.bin"
    with pytest.raises(ms.IntegrityViolation, match="model acs@3"):
        backend.store.get_to_file(digest, target, name="model acs@3")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the partial download was removed
    with pytest.raises(ms.IntegrityViolation, match=digest):
        backend.store.get(digest)  # without a name, the digest alone names it


@pytest.mark.parametrize(
    "digest",
    [
        "",
        "abc",
        "sha256:",
        "sha256:" + "0" * 63,
        "sha256:" + "0" * 65,
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
        "md5:" + "0" * 32,
        "0" * 64,
        "sha256:../../" + "0" * 58,
    ],
)
def test_bad_digests_are_refused(backend: Backend, digest: str, tmp_path: Path) -> None:
    expected = "expected 'sha256:' followed by 64 lowercase hex digits"
    calls: list[Callable[[], object]] = [
        lambda: backend.store.get(digest),
        lambda: backend.store.has(digest),
        lambda: backend.store.get_to_file(digest, tmp_path / "x"),
    ]
    for call in calls:
        with pytest.raises(ms.InvalidInput) as info:
            call()
        assert f"Invalid artifact digest {digest!r}" in str(info.value)
        assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


# -- named objects -----------------------------------------------------------------------
def test_named_write_read_list_delete(backend: Backend) -> None:
    store = backend.store
    store.write("reports/eval.html", b"<html>1</html>")
    store.write("reports/sub/data.json", b"{}")
    store.write("index.json", b"[]")
    assert store.read("reports/eval.html") == b"<html>1</html>"
    assert store.exists("index.json")
    assert not store.exists("reports/nope.html")
    assert store.list() == ["index.json", "reports/eval.html", "reports/sub/data.json"]
    assert store.list("reports/") == ["reports/eval.html", "reports/sub/data.json"]
    assert store.list("reports") == ["reports/eval.html", "reports/sub/data.json"]
    assert store.list("reports/sub/data.json") == ["reports/sub/data.json"]
    assert store.list("nothing/here/") == []
    assert backend.raw_keys() == store.list()

    store.write("reports/eval.html", b"<html>2</html>")  # replace
    assert store.read("reports/eval.html") == b"<html>2</html>"
    with store.open("reports/eval.html") as handle:
        assert handle.read(6) == b"<html>"
        assert handle.read() == b"2</html>"

    store.delete("reports/eval.html")
    assert not store.exists("reports/eval.html")
    assert store.list("reports/") == ["reports/sub/data.json"]
    store.delete("reports/eval.html")  # deleting what is gone is a no-op
    with pytest.raises(ms.NotFound) as info:
        store.read("reports/eval.html")
    assert "No artifact named 'reports/eval.html'" in str(info.value)
    assert store.uri in str(info.value)
    with pytest.raises(ms.NotFound, match=r"reports/eval\.html"):
        store.open("reports/eval.html")


def test_named_write_file(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "segment.parquet"
    source.write_bytes(b"PAR1" + os.urandom(1000))
    backend.store.write_file("predictions/2026/seg-1.parquet", source)
    assert backend.store.read("predictions/2026/seg-1.parquet") == source.read_bytes()


def test_named_and_content_addressed_objects_live_side_by_side(backend: Backend) -> None:
    digest = backend.store.put(b"blob")
    backend.store.write("reports/a.txt", b"a")
    assert backend.store.list("reports/") == ["reports/a.txt"]
    assert list(backend.store.iter_objects()) == [digest]
    assert backend.store.list() == sorted([_object_key(digest), "reports/a.txt"])


@pytest.mark.parametrize(
    "key", ["", "/abs/path", "a//b", "a/../b", "..", ".", "a/./b", "trailing/", "../escape"]
)
def test_bad_keys_are_refused(backend: Backend, key: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: backend.store.write(key, b"x"),
        lambda: backend.store.read(key),
        lambda: backend.store.open(key),
        lambda: backend.store.exists(key),
        lambda: backend.store.delete(key),
    ]
    for call in calls:
        with pytest.raises(ms.InvalidInput) as info:
            call()
        assert f"Invalid artifact key {key!r}" in str(info.value)
        assert "expected a relative '/'-separated path" in str(info.value)
    assert backend.raw_keys() == []


@pytest.mark.parametrize("prefix", ["/abs/", "../", "a/../b/"])
def test_bad_list_prefixes_are_refused(backend: Backend, prefix: str) -> None:
    with pytest.raises(ms.InvalidInput, match="Invalid artifact key"):
        backend.store.list(prefix)


# -- atomicity (local files; on object stores a single PUT is atomic) -------------------
def test_local_write_is_invisible_until_complete(
    local: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = local.store
    assert isinstance(store, FsspecArtifactStore) and store.is_local
    target = store.local_path("reports/eval.html")
    assert target is not None
    seen: dict[str, Any] = {}
    real_fsync = os.fsync

    def spy_fsync(fd: int) -> None:  # called after the bytes are written, before the rename
        seen["target exists"] = target.exists()
        seen["temporaries"] = [p.name for p in target.parent.glob(".steward-*.tmp")]
        seen["listed"] = store.list()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    store.write("reports/eval.html", b"complete")
    assert seen["target exists"] is False
    assert len(seen["temporaries"]) == 1
    assert seen["listed"] == []  # an unfinished write is never listed
    assert target.read_bytes() == b"complete"
    assert list(target.parent.glob(".steward-*")) == []


@pytest.mark.parametrize("op", ["write", "put", "put_file", "write_file"])
def test_a_failed_local_write_leaves_nothing_behind(
    local: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, op: str
) -> None:
    store = local.store
    store.write("reports/eval.html", b"old content")
    source = tmp_path / "source.bin"
    source.write_bytes(b"new content")

    def crash(*args: Any) -> None:
        raise OSError("disk died")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk died"):
        {
            "write": lambda: store.write("reports/eval.html", b"new content"),
            "put": lambda: store.put(b"new content"),
            "put_file": lambda: store.put_file(source),
            "write_file": lambda: store.write_file("reports/eval.html", source),
        }[op]()
    monkeypatch.undo()
    assert store.read("reports/eval.html") == b"old content"  # the old version is intact
    assert not store.has(sha(b"new content"))
    assert local.raw_keys() == ["reports/eval.html"]  # no temporary file either


def test_temporary_files_of_a_crashed_writer_are_not_listed(local: Backend) -> None:
    store = local.store
    digest = store.put(b"blob")
    store.write("reports/a.txt", b"a")
    object_dir = store.local_path(_object_key(digest))
    assert object_dir is not None
    (object_dir.parent / ".steward-abc123.tmp").write_bytes(b"half a bl")
    reports = store.local_path("reports")
    assert reports is not None
    (reports / ".steward-def456.tmp").write_bytes(b"half")
    assert store.list() == sorted([_object_key(digest), "reports/a.txt"])
    assert store.list("reports/") == ["reports/a.txt"]
    assert list(store.iter_objects()) == [digest]


def test_local_streaming_does_not_hold_the_file_in_memory(local: Backend, tmp_path: Path) -> None:
    size = 8 << 20
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(8):
            out.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        digest = local.store.put_file(source)
        local.store.get_to_file(digest, tmp_path / "copy.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 2, f"peak {peak} bytes while streaming {size}"
    assert (tmp_path / "copy.bin").stat().st_size == size


def test_a_local_store_creates_its_directory(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "artifacts"
    store = open_artifact_store(str(root))
    assert root.is_dir()
    assert store.uri == str(root)
    assert store.list() == []


# -- optional dependency -----------------------------------------------------------------
def test_s3_without_s3fs_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recreate an interpreter where ``import s3fs`` fails: hide the module, and forget
    the driver class fsspec cached when s3fs was imported earlier in this session."""
    registry = importlib.import_module("fsspec.registry")
    monkeypatch.setitem(sys.modules, "s3fs", None)
    for protocol in ("s3", "s3a"):
        monkeypatch.delitem(registry._registry, protocol, raising=False)
    with pytest.raises(ImportError):
        importlib.import_module("s3fs")
    with pytest.raises(ms.MissingDependency) as info:
        open_artifact_store("s3://bucket/prefix", {"anon": True})
    assert "pip install 'mlsteward[s3]'" in str(info.value)
    assert "s3://bucket/prefix" in str(info.value)
    assert info.value.exit_code == 11
    assert isinstance(info.value, ImportError)
