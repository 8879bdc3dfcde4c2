"""Typed configuration: every setting declared once, with type, default and meaning.

A setting's value comes from, in order of precedence: an explicit argument (such as
``--uri``), the environment variable ``STEWARD_<NAME>``, the file ``steward.toml`` in the
working directory (or the file named by ``STEWARD_CONFIG``), and finally its default.
"""

from __future__ import annotations

import getpass
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlsteward.core._errors import ConfigError

__all__ = [
    "SETTINGS",
    "SUPPORTED_SCHEMES",
    "Config",
    "Setting",
    "load_config",
    "normalize_store_uri",
]

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _parse_json_object(raw: str) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError('expected a JSON object such as {"anon": false}')
    return value


def _parse_str(raw: str) -> str:
    return raw


def _parse_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds such as 30 or 0.5") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive, finite number of seconds such as 30 or 0.5")
    return value


@dataclass(frozen=True)
class Setting:
    """One configuration setting."""

    name: str
    type_name: str
    default: str | None
    help: str
    parse: Callable[[str], Any] = field(default=_parse_str, repr=False)

    @property
    def env_var(self) -> str:
        return f"STEWARD_{self.name.upper()}"


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting(
            "home",
            "path",
            ".steward",
            "Directory of the embedded stores (SQLite file, artifacts, prediction log), "
            "relative to the working directory.",
        ),
        Setting(
            "uri",
            "uri",
            None,
            "Metadata store: sqlite:///PATH or postgresql://USER@HOST:PORT/DB. "
            "Default: sqlite:///<home>/steward.db.",
        ),
        Setting(
            "artifacts",
            "uri",
            None,
            "Artifact store: a local directory or s3://bucket/prefix (needs mlsteward[s3]). "
            "Default: <home>/artifacts.",
        ),
        Setting(
            "artifacts_options",
            "json",
            None,
            "fsspec storage options for the artifact store, as a JSON object "
            '(e.g. {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}).',
            _parse_json_object,
        ),
        Setting(
            "actor", "str", None, "Who is acting, recorded in the audit trail. Default: OS user."
        ),
        Setting(
            "debug", "bool", "false", "Show Python tracebacks for expected errors.", _parse_bool
        ),
        Setting(
            "run_heartbeat_seconds",
            "seconds",
            "30",
            "How often the writer of an open run records that its process is alive "
            "(runs.heartbeat_at), in seconds.",
            _parse_seconds,
        ),
        Setting(
            "run_stale_seconds",
            "seconds",
            None,
            "A running run without a heartbeat for this long is stale (its process is "
            "taken for dead; `steward runs reap` ends it). Must exceed run_heartbeat_seconds. "
            "Default: 5 x run_heartbeat_seconds (150 s).",
            _parse_seconds,
        ),
    ]
}
_STALE_HEARTBEATS = 5  # run_stale_seconds defaults to this many heartbeat intervals


def normalize_store_uri(uri: str) -> str:
    """Check a metadata store URI and return the SQLAlchemy URL for it.

    >>> normalize_store_uri("postgresql://postgres@127.0.0.1:5432/test")
    'postgresql+psycopg://postgres@127.0.0.1:5432/test'
    >>> normalize_store_uri("sqlite:////tmp/x.db")
    'sqlite:////tmp/x.db'
    """
    if not isinstance(uri, str) or "://" not in uri:
        raise ConfigError(
            f"Config 'STEWARD_URI' is not a valid URI: {uri!r}. "
            f"Expected one of the schemes {', '.join(SUPPORTED_SCHEMES)}, "
            "e.g. sqlite:///./.steward/steward.db or postgresql://user@host:5432/db."
        )
    scheme = uri.split("://", 1)[0].lower()
    if scheme not in SUPPORTED_SCHEMES:
        extra = ""
        if scheme in {"http", "https"}:
            extra = " Talking to a Steward server over http(s) is not available in this version."
        raise ConfigError(
            f"Config 'STEWARD_URI' has an unsupported scheme {scheme!r} in {uri!r}. "
            f"Supported schemes: {', '.join(SUPPORTED_SCHEMES)}.{extra}"
        )
    if scheme == "sqlite":
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else None
        if not path:
            raise ConfigError(
                f"Config 'STEWARD_URI' {uri!r} names no database file. "
                "Expected sqlite:///relative/path.db or sqlite:////absolute/path.db."
            )
        return uri
    parts = urlsplit(uri)
    if not parts.hostname or not parts.path.strip("/"):
        raise ConfigError(
            f"Config 'STEWARD_URI' {uri!r} needs a host and a database name, "
            "e.g. postgresql://postgres@127.0.0.1:5432/steward."
        )
    return "postgresql+psycopg://" + uri.split("://", 1)[1]


@dataclass(frozen=True)
class Config:
    """Resolved configuration. Build it with :func:`load_config`."""

    home: Path
    uri: str
    artifacts: str
    artifacts_options: dict[str, Any]
    actor: str
    debug: bool
    sources: dict[str, str]
    run_heartbeat_seconds: float = 30.0
    run_stale_seconds: float = 150.0

    @property
    def is_embedded(self) -> bool:
        """True when the metadata store is a local SQLite file."""
        return self.uri.startswith("sqlite")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from exc
    section = data.get("steward", data)
    if not isinstance(section, dict):
        raise ConfigError(f"Config file {path}: [steward] must be a table.")
    unknown = sorted(set(section) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"Config file {path} has unknown keys {unknown}. Known keys: {sorted(SETTINGS)}."
        )
    return section


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        return "unknown"


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Resolve every setting from overrides, environment, steward.toml and defaults."""
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(overrides) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"Unknown settings {unknown}. Known settings: {sorted(SETTINGS)}.")
    config_file = (
        Path(env["STEWARD_CONFIG"]) if env.get("STEWARD_CONFIG") else base / "steward.toml"
    )
    file_values: dict[str, Any] = {}
    if config_file.is_file():
        file_values = _read_toml(config_file)
    elif env.get("STEWARD_CONFIG"):
        raise ConfigError(f"STEWARD_CONFIG names {config_file}, which does not exist.")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, setting in SETTINGS.items():
        if name in overrides:
            raw, source = overrides[name], "argument"
        elif setting.env_var in env:
            raw, source = env[setting.env_var], f"env {setting.env_var}"
        elif name in file_values:
            raw, source = file_values[name], f"file {config_file}"
        else:
            raw, source = setting.default, "default"
        if isinstance(raw, str):
            try:
                values[name] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigError(
                    f"Config '{setting.env_var}' has a bad value {raw!r} ({source}): {exc}. "
                    f"Expected a {setting.type_name}: {setting.help}"
                ) from exc
        else:
            values[name] = raw
        sources[name] = source

    home = Path(values["home"])
    if not home.is_absolute():
        home = base / home
    uri = values["uri"] or f"sqlite:///{home / 'steward.db'}"
    normalize_store_uri(uri)
    artifacts = values["artifacts"] or str(home / "artifacts")
    heartbeat = _seconds_value(values["run_heartbeat_seconds"], "run_heartbeat_seconds", sources)
    stale = (
        heartbeat * _STALE_HEARTBEATS
        if values["run_stale_seconds"] is None
        else _seconds_value(values["run_stale_seconds"], "run_stale_seconds", sources)
    )
    if stale <= heartbeat:
        raise ConfigError(
            f"Config 'STEWARD_RUN_STALE_SECONDS' is {stale:g} s ({sources['run_stale_seconds']}), "
            f"not more than STEWARD_RUN_HEARTBEAT_SECONDS ({heartbeat:g} s, "
            f"{sources['run_heartbeat_seconds']}): every live run would look dead between two "
            f"heartbeats. Set it to several heartbeat intervals, e.g. {heartbeat * 5:g}."
        )
    return Config(
        home=home,
        uri=uri,
        artifacts=str(artifacts),
        artifacts_options=dict(values["artifacts_options"] or {}),
        actor=values["actor"] or _default_actor(),
        debug=bool(values["debug"]),
        sources=sources,
        run_heartbeat_seconds=heartbeat,
        run_stale_seconds=stale,
    )


def _seconds_value(raw: Any, name: str, sources: Mapping[str, str]) -> float:
    """A seconds setting given as a number (an argument) or already parsed from text."""
    setting = SETTINGS[name]
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        try:
            return float(_parse_seconds(str(raw)))
        except ValueError as exc:
            raise ConfigError(
                f"Config '{setting.env_var}' has a bad value {raw!r} ({sources[name]}): {exc}."
            ) from exc
    if not 0 < raw < float("inf"):
        raise ConfigError(
            f"Config '{setting.env_var}' has a bad value {raw!r} ({sources[name]}): expected a "
            "positive, finite number of seconds such as 30 or 0.5."
        )
    return float(raw)
