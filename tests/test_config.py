"""One settings object: every variable read in one place, the README table generated from it."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from bot.config import (
    PROJECT_ROOT,
    Settings,
    configuration_table,
    database_url,
    documented_variables,
    settings,
    var_dir,
)

READS_THE_ENVIRONMENT = {
    "bot/config.py",
    "connectors/sessions.py",  # being rewritten elsewhere; reads TOUCHLINE_SESSION_SECRET
    "connectors/pubsub.py",  # being rewritten elsewhere
    "bot/nlu/embedding_model.py",  # sets the Hugging Face offline switch, nothing else does
}
"""Product modules allowed to touch ``os.environ``."""


def readme_table() -> str:
    """The table under the README's "Configuration reference" heading."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration reference\n", 1)[1]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable |"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[start:end]) + "\n"


def test_readme_configuration_table_is_the_generated_one():
    assert readme_table() == configuration_table(), "run: .venv/bin/python -m bot.config"


def test_every_variable_is_documented_once():
    names = [v.name for v in documented_variables()]
    assert len(names) == len(set(names))
    assert "TOUCHLINE_KICKS_MODELS" in names  # was read but undocumented
    assert all(v.default and v.meaning for v in documented_variables())


def environment_uses(path: Path) -> list[int]:
    """Lines of ``path`` that use ``os.environ``, ``os.getenv`` or import ``environ``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and isinstance(
                node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                alias.name in ("environ", "getenv") for alias in node.names):
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment():
    offenders = []
    for top in ("bot", "actions", "connectors"):
        for path in sorted((PROJECT_ROOT / top).rglob("*.py")):
            relative = str(path.relative_to(PROJECT_ROOT))
            if relative not in READS_THE_ENVIRONMENT and environment_uses(path):
                offenders.append(f"{relative}:{environment_uses(path)}")
    assert offenders == []


def test_the_checker_sees_environment_reads(tmp_path):
    code = tmp_path / "m.py"
    code.write_text("import os\nfrom os import getenv\nx = os.environ.get('A')\n")
    assert environment_uses(code) == [2, 3]


def test_defaults_on_an_empty_environment():
    s = Settings.from_env({})
    assert s.var_dir == PROJECT_ROOT / "var" and s.database_url is None
    assert (s.rasa_port, s.action_port, s.tracker_db) == ("5005", 5055, "var/tracker.db")
    assert (s.agent_token, s.rasa_public_url) == ("", "")
    assert (s.action_timeout_s, s.turn_slots) == (8.0, 4)
    assert s.embedding_model is None and s.kicks_models is None
    assert s.voice_silence_s is None
    assert (s.asr_engine, s.asr_model_dir) == ("whisper", None)
    assert (s.tts_engine, s.tts_voice, s.espeak_voice) == ("piper", None, "en-us")
    assert s.named("TELEGRAM_TOKEN") is None


def test_a_deploy_reaches_the_listed_rasa_servers_else_the_one():
    assert Settings.from_env({}).deploy_urls() == ["http://127.0.0.1:5005"]
    assert Settings.from_env({"TOUCHLINE_RASA_URL": "http://rasa:5005/"}).deploy_urls() == [
        "http://rasa:5005"]
    listed = Settings.from_env({"TOUCHLINE_RASA_URLS": " http://a:5005/, http://b:5005 "})
    assert listed.deploy_urls() == ["http://a:5005", "http://b:5005"]


def test_values_are_typed_and_empty_values_keep_their_former_meaning():
    s = Settings.from_env({
        "ACTION_PORT": "6055", "TOUCHLINE_ACTION_TIMEOUT_S": "2.5", "TOUCHLINE_TURN_SLOTS": "",
        "TOUCHLINE_VOICE_SILENCE_S": "0", "TOUCHLINE_ASR_ENGINE": "PocketSphinx",
        "TOUCHLINE_TTS_ENGINE": "", "TOUCHLINE_TTS_VOICE": "/v/joe.onnx",
        "TOUCHLINE_RASA_PUBLIC_URL": "https://rasa.example.com/", "DATABASE_URL": "",
        "TOUCHLINE_KICKS_MODELS": "/k", "TELEGRAM_TOKEN": "  12:ab  ", "TWILIO_AUTH_TOKEN": " ",
    })
    assert (s.action_port, s.action_timeout_s, s.turn_slots) == (6055, 2.5, 4)
    assert s.voice_silence_s == 0.0  # set to zero is not unset
    assert (s.asr_engine, s.tts_engine, s.tts_voice) == ("pocketsphinx", "piper",
                                                         Path("/v/joe.onnx"))
    assert s.rasa_public_url == "https://rasa.example.com" and s.database_url is None
    assert s.kicks_models == Path("/k")
    assert s.named("TELEGRAM_TOKEN") == "12:ab" and s.named("TWILIO_AUTH_TOKEN") is None


@pytest.mark.parametrize("name", ["ACTION_PORT", "TOUCHLINE_ACTION_TIMEOUT_S",
                                  "TOUCHLINE_TURN_SLOTS", "TOUCHLINE_VOICE_SILENCE_S"])
def test_a_number_that_does_not_parse_is_an_error_naming_the_variable(name):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: "abc"})


def test_secrets_stay_out_of_the_repr():
    s = Settings.from_env({"TOUCHLINE_AGENT_TOKEN": "agent-secret-1",
                           "DATABASE_URL": "postgresql://u:pw-2@db/shop",
                           "TELEGRAM_TOKEN": "12:tg-secret-3"})
    for secret in ("agent-secret-1", "pw-2", "tg-secret-3"):
        assert secret not in repr(s)
    assert "tracker_db='var/tracker.db'" in repr(s)


def test_the_process_reads_its_settings_once(env, tmp_path):
    env.set("TOUCHLINE_VAR", str(tmp_path / "a"))
    first = settings()
    assert var_dir() == tmp_path / "a" and (tmp_path / "a").is_dir()
    assert database_url() == f"sqlite:///{tmp_path / 'a' / 'shop.db'}"
    os.environ["TOUCHLINE_VAR"] = str(tmp_path / "b")  # undone by env's monkeypatch
    assert settings() is first and var_dir() == tmp_path / "a"
    env.set("TOUCHLINE_VAR", str(tmp_path / "c"))  # what the tests do: read again
    assert settings() is not first and var_dir() == tmp_path / "c"


def test_the_voice_pipeline_is_speculative_or_sequential():
    assert Settings.from_env({}).voice_pipeline == "speculative"
    assert Settings.from_env({}).asr_workers == 2
    assert Settings.from_env({"TOUCHLINE_VOICE_PIPELINE": "Sequential"}).voice_pipeline == (
        "sequential")
    with pytest.raises(ValueError, match="TOUCHLINE_VOICE_PIPELINE"):
        Settings.from_env({"TOUCHLINE_VOICE_PIPELINE": "parallel"})
