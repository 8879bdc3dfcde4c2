"""Shared fixtures: stores on every backend, a moto S3 server, strict mode for CI.

Tests that need a real server (PostgreSQL, the S3 server, Chromium) call :func:`need`:
on a machine without it they are skipped with the reason; with STEWARD_TEST_STRICT=1
(set by .ci/run) the same situation is a failure, so CI always runs them for real.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

STRICT = os.environ.get("STEWARD_TEST_STRICT") == "1"
PG_ADMIN = os.environ.get("STEWARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def need(condition: bool, reason: str) -> None:
    """Skip (or, in strict mode, fail) when ``condition`` is false."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"STEWARD_TEST_STRICT=1 and a needed server is missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's STEWARD_* settings or steward.toml."""
    for key in list(os.environ):
        if (
            key.startswith("STEWARD_")
            and key != "STEWARD_TEST_STRICT"
            and not key.startswith("STEWARD_TEST_")
        ):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("STEWARD_ACTOR", "tester")
    monkeypatch.chdir(tmp_path)


# -- PostgreSQL ------------------------------------------------------------------------
def _pg_admin_conn() -> Any:
    import psycopg

    return psycopg.connect(
        PG_ADMIN.replace("postgresql://", "postgresql://", 1), autocommit=True, connect_timeout=3
    )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A fresh database for this test session (dropped at the end), or None when down."""
    try:
        admin = _pg_admin_conn()
    except Exception:
        yield None
        return
    name = f"steward_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_admin_conn() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_uri(pg_database: str | None) -> Iterator[str]:
    """A fresh schema in the session's PostgreSQL database, as a store URI."""
    need(pg_database is not None, f"PostgreSQL is not reachable at {PG_ADMIN}")
    assert pg_database is not None
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_database}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh metadata store URI on every supported backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'steward.db'}"
    uri: str = request.getfixturevalue("pg_uri")
    return uri


@pytest.fixture
def store(store_uri: str, tmp_path: Path) -> Iterator[Any]:
    from mlsteward.store import open_store

    opened = open_store(uri=store_uri, artifacts=str(tmp_path / "artifacts"), actor="tester")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def client(store: Any) -> Any:
    from mlsteward.client import Client

    return Client(store)


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[Any]:
    """A client on a fresh SQLite store (for tests that need only one backend)."""
    import mlsteward as ms

    st = ms.connect(f"sqlite:///{tmp_path / 'steward.db'}", artifacts=str(tmp_path / "artifacts"))
    try:
        yield st
    finally:
        st.close()


# -- S3 (moto server) ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """An S3-compatible server (moto) on 127.0.0.1 for this session, or None."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        yield None
        return
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        else:  # pragma: no cover
            proc.terminate()
        yield endpoint if proc.poll() is None else None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


@pytest.fixture
def s3_bucket(s3_endpoint: str | None) -> tuple[str, dict[str, Any]]:
    """A fresh bucket on the moto server: (s3://bucket/prefix, fsspec storage options)."""
    need(
        s3_endpoint is not None,
        "the moto S3 server could not be started (pip install 'moto[server]')",
    )
    import boto3

    bucket = f"steward-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        "skip_instance_cache": True,
    }
    return f"s3://{bucket}/artifacts", options


# -- Browser ---------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright (Debian's chromium, never downloaded)."""
    has_chromium = shutil.which("chromium") is not None or Path(CHROMIUM).exists()
    need(has_chromium, "Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed (pip install playwright)")
        raise
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()
