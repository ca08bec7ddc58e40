"""Speech engines on real synthesised speech: Whisper and pocketsphinx, Piper and espeak-ng,
16 kHz and 8 kHz µ-law telephone audio, silence, configuration and fallbacks."""

from __future__ import annotations

import pytest

from bot.speech.asr import (
    SphinxRecognizer,
    WhisperRecognizer,
    load_recognizer,
)
from bot.speech.audio import mulaw_decode, mulaw_encode, silence
from bot.speech.tts import (
    MAX_CHARS,
    EspeakSynthesizer,
    PiperSynthesizer,
    load_synthesizer,
)
from tests.speech.conftest import QUESTION, words


def test_defaults_are_whisper_and_piper(engines):
    assert isinstance(engines.recognizer, WhisperRecognizer)
    assert isinstance(engines.synthesizer, PiperSynthesizer)
    assert engines.synthesizer.rate == 22050


def test_whisper_hears_piper_exactly(engines, question):
    heard = engines.recognizer.transcribe(question)
    assert words(heard.text) == words(QUESTION) and heard.engine == "whisper"


def test_whisper_hears_telephone_audio(engines, question):
    phone = mulaw_decode(mulaw_encode(question))
    assert phone.rate == 8000
    assert words(engines.recognizer.transcribe(phone).text) == words(QUESTION)


def test_whisper_hears_nothing_in_silence(engines):
    assert engines.recognizer.transcribe(silence(2.0)).text == ""


def test_pocketsphinx_fallback_hears_the_question(question):
    heard = SphinxRecognizer().transcribe(question)
    assert heard.engine == "pocketsphinx"
    assert {"problem", "payment"} <= set(words(heard.text))


def test_espeak_fallback_is_understood_by_whisper(engines):
    pieces = list(EspeakSynthesizer().speak("Where is my order? It is late."))
    assert len(pieces) == 2  # one piece per sentence
    heard = engines.recognizer.transcribe(pieces[0].then(pieces[1]))
    # Content words, not an exact transcript: formant speech is near Whisper tiny's edge.
    assert len({"where", "order", "late"} & set(words(heard.text))) >= 2, heard.text


def test_piper_speaks_sentence_by_sentence_and_nothing_for_blank_text(engines):
    assert len(list(engines.synthesizer.speak("Hello there. How can I help?"))) == 2
    assert list(engines.synthesizer.speak("   ")) == []


def test_overlong_text_is_cut_at_a_sentence(engines):
    text = "This is one sentence. " * 200
    pieces = list(EspeakSynthesizer().speak(text))
    assert len(pieces) == len(text[:MAX_CHARS].split(".")) - 1


def test_unknown_engines_are_refused(env):
    with pytest.raises(ValueError, match="unknown speech recognition engine"):
        load_recognizer("vosk")
    env.set("TOUCHLINE_TTS_ENGINE", "festival")
    with pytest.raises(ValueError, match="unknown speech synthesis engine"):
        load_synthesizer()


def test_engines_are_chosen_by_environment(env):
    env.set("TOUCHLINE_ASR_ENGINE", "pocketsphinx")
    assert isinstance(load_recognizer(), SphinxRecognizer)
    assert isinstance(load_synthesizer("espeak"), EspeakSynthesizer)


def test_unloadable_whisper_falls_back_to_pocketsphinx(env, tmp_path, caplog):
    env.set("TOUCHLINE_ASR_MODEL_DIR", str(tmp_path / "no-such-model"))
    assert isinstance(load_recognizer(), SphinxRecognizer)
    assert "Whisper unavailable" in caplog.text


def test_missing_piper_voice_falls_back_to_espeak(env, tmp_path, caplog):
    env.set("TOUCHLINE_TTS_VOICE", str(tmp_path / "none.onnx"))
    assert isinstance(load_synthesizer(), EspeakSynthesizer)
    assert "Piper unavailable" in caplog.text
