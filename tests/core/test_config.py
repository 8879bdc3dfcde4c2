"""Configuration: one registry; argument > environment > steward.toml > default."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

import mlsteward as ms
from mlsteward.core import SETTINGS, SUPPORTED_SCHEMES, load_config, normalize_store_uri


def write_toml(directory: Path, text: str, name: str = "steward.toml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    config = load_config(environ={}, cwd=tmp_path)
    assert config.home == tmp_path / ".steward"
    assert config.uri == f"sqlite:///{tmp_path}/.steward/steward.db"
    assert config.artifacts == str(tmp_path / ".steward" / "artifacts")
    assert config.artifacts_options == {}
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    assert config.actor == user
    assert config.debug is False
    assert config.is_embedded
    assert config.sources == dict.fromkeys(SETTINGS, "default")


def test_every_setting_is_declared_once_with_type_default_and_help() -> None:
    assert set(SETTINGS) == {
        "home",
        "uri",
        "artifacts",
        "artifacts_options",
        "actor",
        "debug",
        "run_heartbeat_seconds",
        "run_stale_seconds",
    }
    for name, setting in SETTINGS.items():
        assert setting.name == name
        assert setting.env_var == "STEWARD_" + name.upper()
        assert setting.type_name in {"path", "uri", "json", "str", "bool", "seconds"}
        assert len(setting.help) > 20


def test_argument_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    write_toml(tmp_path, '[steward]\nuri = "sqlite:///file.db"\nactor = "from-file"\n')
    env = {"STEWARD_URI": "sqlite:///env.db"}

    config = load_config(environ={}, cwd=tmp_path)
    assert (config.uri, config.actor) == ("sqlite:///file.db", "from-file")
    assert config.sources["uri"] == f"file {tmp_path / 'steward.toml'}"

    config = load_config(environ=env, cwd=tmp_path)
    assert (config.uri, config.sources["uri"]) == ("sqlite:///env.db", "env STEWARD_URI")
    assert config.actor == "from-file"  # other settings still come from the file

    config = load_config({"uri": "sqlite:///arg.db"}, environ=env, cwd=tmp_path)
    assert (config.uri, config.sources["uri"]) == ("sqlite:///arg.db", "argument")

    config = load_config({"uri": None}, environ=env, cwd=tmp_path)  # None = not given
    assert config.uri == "sqlite:///env.db"


def test_the_real_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_URI", "postgresql://postgres@db.example:5432/steward")
    monkeypatch.setenv("STEWARD_ACTOR", "ci-bot")
    config = load_config(cwd=tmp_path)
    assert config.uri == "postgresql://postgres@db.example:5432/steward"
    assert config.actor == "ci-bot"
    assert not config.is_embedded


def test_a_file_without_a_steward_table_is_read_too(tmp_path: Path) -> None:
    write_toml(tmp_path, 'actor = "plain"\ndebug = true\n')
    config = load_config(environ={}, cwd=tmp_path)
    assert (config.actor, config.debug) == ("plain", True)


def test_typed_values_in_the_file(tmp_path: Path) -> None:
    write_toml(
        tmp_path,
        '[steward]\nartifacts = "s3://bucket/prefix"\n'
        "[steward.artifacts_options]\nanon = false\n"
        '[steward.artifacts_options.client_kwargs]\nendpoint_url = "http://127.0.0.1:9000"\n',
    )
    config = load_config(environ={}, cwd=tmp_path)
    assert config.artifacts == "s3://bucket/prefix"
    assert config.artifacts_options == {
        "anon": False,
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"},
    }


def test_steward_config_names_another_file(tmp_path: Path) -> None:
    write_toml(tmp_path, 'actor = "local"\n')
    other = write_toml(tmp_path, 'actor = "elsewhere"\n', name="team.toml")
    config = load_config(environ={"STEWARD_CONFIG": str(other)}, cwd=tmp_path)
    assert config.actor == "elsewhere"
    assert config.sources["actor"] == f"file {other}"
    with pytest.raises(ms.ConfigError, match=r"STEWARD_CONFIG names .*missing\.toml"):
        load_config(environ={"STEWARD_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)


def test_home_moves_the_embedded_stores(tmp_path: Path) -> None:
    config = load_config(environ={"STEWARD_HOME": "state"}, cwd=tmp_path)
    assert config.home == tmp_path / "state"
    assert config.uri == f"sqlite:///{tmp_path}/state/steward.db"
    assert config.artifacts == str(tmp_path / "state" / "artifacts")
    absolute = tmp_path / "abs"
    assert load_config(environ={"STEWARD_HOME": str(absolute)}, cwd=tmp_path).home == absolute


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("off", False),
        ("", False),
    ],
)
def test_boolean_values(tmp_path: Path, raw: str, value: bool) -> None:
    assert load_config(environ={"STEWARD_DEBUG": raw}, cwd=tmp_path).debug is value


@pytest.mark.parametrize(
    ("env", "words"),
    [
        (
            {"STEWARD_DEBUG": "perhaps"},
            [
                "Config 'STEWARD_DEBUG' has a bad value 'perhaps' (env STEWARD_DEBUG)",
                "expected one of 1/0, true/false",
                "Expected a bool",
            ],
        ),
        (
            {"STEWARD_ARTIFACTS_OPTIONS": "[1, 2]"},
            ["STEWARD_ARTIFACTS_OPTIONS", "expected a JSON object"],
        ),
        ({"STEWARD_ARTIFACTS_OPTIONS": "{not json"}, ["STEWARD_ARTIFACTS_OPTIONS", "{not json"]),
        (
            {"STEWARD_URI": "mysql://u@h/db"},
            [
                "unsupported scheme 'mysql'",
                "Supported schemes: sqlite, postgresql, postgresql+psycopg",
            ],
        ),
        ({"STEWARD_URI": "steward.db"}, ["is not a valid URI: 'steward.db'", "e.g. sqlite:///"]),
    ],
)
def test_bad_values_are_named_with_what_was_expected(
    tmp_path: Path, env: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(ms.ConfigError) as info:
        load_config(environ=env, cwd=tmp_path)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert info.value.exit_code == 2
    assert isinstance(info.value, ValueError)


def test_bad_files_are_refused(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[steward]\nuri = \n")
    with pytest.raises(ms.ConfigError, match=f"Config file {path} is not valid TOML"):
        load_config(environ={}, cwd=tmp_path)
    write_toml(tmp_path, '[steward]\nurl = "sqlite:///x.db"\n')
    with pytest.raises(ms.ConfigError) as info:
        load_config(environ={}, cwd=tmp_path)
    assert "unknown keys ['url']" in str(info.value)
    assert "'uri'" in str(info.value)  # the known keys are listed
    write_toml(tmp_path, 'steward = "not a table"\n')
    with pytest.raises(ms.ConfigError, match=r"\[steward\] must be a table"):
        load_config(environ={}, cwd=tmp_path)


def test_run_liveness_settings_default_derive_and_refuse_nonsense(tmp_path: Path) -> None:
    config = load_config(environ={}, cwd=tmp_path)
    assert (config.run_heartbeat_seconds, config.run_stale_seconds) == (30.0, 150.0)
    config = load_config(environ={"STEWARD_RUN_HEARTBEAT_SECONDS": "2"}, cwd=tmp_path)
    assert (config.run_heartbeat_seconds, config.run_stale_seconds) == (2.0, 10.0)  # 5 x
    write_toml(tmp_path, "[steward]\nrun_stale_seconds = 600\n")  # a TOML integer
    config = load_config(environ={}, cwd=tmp_path)
    assert config.run_stale_seconds == 600.0
    assert config.sources["run_stale_seconds"] == f"file {tmp_path / 'steward.toml'}"
    config = load_config({"run_heartbeat_seconds": 0.1, "run_stale_seconds": 0.5}, environ={})
    assert (config.run_heartbeat_seconds, config.run_stale_seconds) == (0.1, 0.5)
    with pytest.raises(ms.ConfigError) as info:
        load_config(environ={"STEWARD_RUN_HEARTBEAT_SECONDS": "often"}, cwd=tmp_path)
    assert "STEWARD_RUN_HEARTBEAT_SECONDS" in str(info.value)
    assert "a number of seconds such as 30" in str(info.value)
    with pytest.raises(ms.ConfigError, match="positive, finite number of seconds"):
        load_config({"run_heartbeat_seconds": -1}, environ={}, cwd=tmp_path)
    with pytest.raises(ms.ConfigError) as info:
        load_config(environ={"STEWARD_RUN_STALE_SECONDS": "20"}, cwd=tmp_path)  # < 30 s
    message = str(info.value)
    assert "not more than STEWARD_RUN_HEARTBEAT_SECONDS (30 s" in message
    assert "every live run would look dead" in message and "e.g. 150" in message


def test_unknown_overrides_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ms.ConfigError, match=r"Unknown settings \['colour'\]"):
        load_config({"colour": "blue"}, environ={}, cwd=tmp_path)


# -- store URIs ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("sqlite:///relative/x.db", "sqlite:///relative/x.db"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        (
            "postgresql://postgres@127.0.0.1:5432/test",
            "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        ),
        ("postgresql+psycopg://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("POSTGRESQL://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_normalize_store_uri(uri: str, url: str) -> None:
    assert normalize_store_uri(uri) == url


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        (
            "https://steward.example",
            ["unsupported scheme 'https'", "Steward server over http(s) is not available"],
        ),
        ("sqlite://", ["names no database file", "sqlite:////absolute/path.db"]),
        ("sqlite:///", ["names no database file"]),
        ("postgresql://", ["needs a host and a database name"]),
        ("postgresql://host:5432/", ["needs a host and a database name"]),
        ("", ["is not a valid URI: ''"]),
    ],
)
def test_bad_store_uris(uri: str, words: list[str]) -> None:
    with pytest.raises(ms.ConfigError) as info:
        normalize_store_uri(uri)
    for word in words:
        assert word in str(info.value)


def test_the_supported_schemes_are_the_ones_named() -> None:
    assert SUPPORTED_SCHEMES == ("sqlite", "postgresql", "postgresql+psycopg")
