"""Where a run comes from: code version (git) and environment (Python, platform, packages).

Both are captured at run start. The package list is read once per process (installing
packages in a running process is not tracked); the git state is cached for
:data:`GIT_CACHE_SECONDS` per directory so that a loop starting many runs does not spawn a
``git`` process for each. Outside a repository, or without ``git``, the commit and dirty
flag are None: capturing never fails.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = ["GIT_CACHE_SECONDS", "CodeVersion", "Environment", "code_version", "environment"]

GIT_CACHE_SECONDS = 10.0
_GIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class CodeVersion:
    """The git commit and dirty flag of the code a run executes, and its entry point."""

    git_commit: str | None
    git_dirty: bool | None
    source: str | None


@dataclass(frozen=True)
class Environment:
    """Python version, platform and installed distributions (name -> version)."""

    python_version: str
    platform: str
    packages: dict[str, str]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "python_version": self.python_version,
                "python_implementation": platform.python_implementation(),
                "platform": self.platform,
                "packages": self.packages,
            },
            sort_keys=True,
            indent=1,
        ).encode("utf-8")


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """The environment of this process (computed once)."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.name
        if name:
            packages.setdefault(str(name).lower().replace("_", "-"), dist.version)
    return Environment(
        python_version=platform.python_version(),
        platform=platform.platform()[:200],
        packages=dict(sorted(packages.items())),
    )


@functools.lru_cache(maxsize=1)
def _source() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path:
        return str(Path(path).resolve())[:1000]
    if sys.argv and sys.argv[0] and sys.argv[0] not in {"-c", "-m"}:
        return sys.argv[0][:1000]
    return "<interactive>"


_git_cache: dict[str, tuple[float, str | None, bool | None]] = {}
_git_lock = threading.Lock()


def _git_state(directory: str) -> tuple[str | None, bool | None]:
    now = time.monotonic()
    with _git_lock:
        cached = _git_cache.get(directory)
        if cached is not None and now - cached[0] < GIT_CACHE_SECONDS:
            return cached[1], cached[2]
    commit: str | None = None
    dirty: bool | None = None
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            env=env,
            check=False,
        )
        if done.returncode == 0:
            lines = done.stdout.splitlines()
            for line in lines:
                if line.startswith("# branch.oid "):
                    oid = line.split(" ", 2)[2].strip()
                    commit = None if oid == "(initial)" else oid
            dirty = any(line and not line.startswith("#") for line in lines)
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    with _git_lock:
        _git_cache[directory] = (now, commit, dirty)
    return commit, dirty


def code_version() -> CodeVersion:
    """The code version of this process: the git state of its entry point's directory
    (or of the working directory), and the entry point itself."""
    source = _source()
    directory = os.getcwd()
    if source and source != "<interactive>":
        parent = Path(source).parent
        if parent.is_dir():
            directory = str(parent)
    commit, dirty = _git_state(directory)
    return CodeVersion(git_commit=commit, git_dirty=dirty, source=source)
