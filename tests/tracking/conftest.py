"""Fixtures of the tracking tests: a project on every backend, child-process helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT = "acs"


@pytest.fixture
def project(client: Any) -> str:
    """A project in the parametrised ``client`` (SQLite and PostgreSQL)."""
    client.create_project(PROJECT)
    return PROJECT


@pytest.fixture
def st(sqlite_client: Any) -> Any:
    """A SQLite client with the project created."""
    sqlite_client.create_project(PROJECT)
    return sqlite_client


@pytest.fixture(autouse=True)
def _autolog_off() -> Iterator[None]:
    """No test leaves estimators patched."""
    yield
    from mlsteward.tracking import autolog

    autolog(disable=True)


class Scripts:
    """Child Python processes that import the Steward under test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, name: str, body: str) -> Path:
        script = self.directory / name
        script.write_text(textwrap.dedent(body))
        return script

    def start(self, script: Path, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(
            [sys.executable, str(script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )


@pytest.fixture
def scripts(tmp_path: Path) -> Scripts:
    return Scripts(tmp_path)
