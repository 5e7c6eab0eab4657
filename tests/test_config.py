"""Settings: defaults, TOML file, environment, and the README documenting each one."""

from __future__ import annotations

import pytest
from conftest import REPO

from assistant import config
from assistant.errors import ConfigError


def test_precedence_default_file_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('whisper_model = "tiny.en"\nthreads = 3\n')
    cfg = config.load({"ASSISTANT_HOME": str(home), "ASSISTANT_THREADS": "1"})
    assert cfg.whisper_model == "tiny.en"
    assert cfg.threads == 1
    assert cfg.db == str(home / "assistant.duckdb")
    sources = {v.name: v.source for v in cfg.values()}
    assert sources["whisper_model"].endswith("config.toml")
    assert sources["threads"] == "ASSISTANT_THREADS"
    assert sources["beam_size"] == "default"


def test_explicit_config_file_and_assistant_table(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text("[assistant]\nallow_network = true\nsearch_threshold = 0.7\n")
    cfg = config.load({"ASSISTANT_CONFIG": str(path), "ASSISTANT_HOME": str(tmp_path)})
    assert cfg.allow_network is True and cfg.search_threshold == 0.7


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ASSISTANT_THREADS": "many"}, "not a valid int"),
        ({"ASSISTANT_ALLOW_NETWORK": "perhaps"}, "not a valid bool"),
        ({"ASSISTANT_CONFIG": "/nonexistent/site.toml"}, "does not exist"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        config.load({"ASSISTANT_HOME": str(tmp_path), **env})


def test_bad_toml_and_unknown_keys(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("threads = = 2\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        config.load({"ASSISTANT_CONFIG": str(path)})
    path.write_text("thredas = 2\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        config.load({"ASSISTANT_CONFIG": str(path)})


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    missing = [s.env for s in config.SETTINGS if s.env not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


def test_config_command_shows_sources(capsys, monkeypatch):
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_BEAM_SIZE", "2")
    config.reset()
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "beam_size" in out and "ASSISTANT_BEAM_SIZE" in out
