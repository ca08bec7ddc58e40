"""Speech engines on real synthesised speech: Whisper and pocketsphinx, Piper and espeak-ng,
16 kHz and 8 kHz µ-law telephone audio, silence, configuration and fallbacks."""

from __future__ import annotations

from difflib import SequenceMatcher

import numpy as np
import pytest

from bot.config import ASR_WINDOW_S
from bot.speech import asr
from bot.speech.asr import (
    WHISPER_WINDOW_S,
    SphinxRecognizer,
    WhisperRecognizer,
    load_recognizer,
    longest_quiet_s,
    worker_threads,
)
from bot.speech.audio import Audio, mulaw_decode, mulaw_encode, silence
from bot.speech.tts import (
    MAX_CHARS,
    EspeakSynthesizer,
    PiperSynthesizer,
    load_synthesizer,
)
from bot.speech.vad import EndpointSettings
from tests.speech.conftest import QUESTION, say, trimmed, words


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


def test_the_first_sentence_is_cut_where_a_phrase_starts_and_joined_again(engines):
    """The caller hears "Order TL-10003 was shipped" while "on 2 December ..." renders; the
    join leaves no pause an endpointer would take; later sentences stay whole."""
    text = "Order TL-10003 was shipped on 2 December and should arrive by Friday. It is on time."
    first, rest, last = pieces = list(engines.synthesizer.speak(text))
    heard = words(engines.recognizer.transcribe(first).text)  # tiny.en on a lone phrase:
    assert "order" in heard and "december" not in heard, heard  # "shit", "worship" too
    assert first.seconds < rest.seconds
    assert words(engines.recognizer.transcribe(last).text) == ["it", "is", "on", "time"]
    gap = trimmed(first.then(rest)).at(16000).samples  # the cut's quiet, in the middle
    assert longest_quiet_s(gap) < EndpointSettings().pause_s
    assert longest_quiet_s(trimmed(rest.then(last)).at(16000).samples) > 0.128  # a full stop
    assert len(pieces) == 3


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


def test_short_window_hears_what_the_30_second_window_hears(engines, question):
    assert engines.recognizer.window_s == ASR_WINDOW_S == 10.0  # the speculative default
    full = WhisperRecognizer()  # faster-whisper's own 30 s window
    assert full.window_s == WHISPER_WINDOW_S
    phone = mulaw_decode(mulaw_encode(question))
    for audio in (question, phone):
        assert words(engines.recognizer.transcribe(audio).text) == words(
            full.transcribe(audio).text) == words(QUESTION)


def test_short_window_hears_nothing_in_faint_noise(engines):
    noise = np.random.default_rng(3).normal(0, 0.002, 32000).astype(np.float32)
    assert engines.recognizer.transcribe(Audio(noise, 16000)).text == ""


LONG = (
    "I have a problem with my payment. My parcel still hasn't arrived and it has been over "
    "a week. I added some shoes to my cart but now the basket is empty. Can I talk to a "
    "real person please? The total in my cart is wrong. Where do I enter a discount code? "
    "Do you sell running shoes for women?"
)


def test_an_utterance_longer_than_the_window_is_heard(engines, question):
    long = say(engines, LONG)  # a window past 15 s
    assert 15 < long.seconds < 25
    heard, said = words(engines.recognizer.transcribe(long).text), words(LONG)
    assert SequenceMatcher(None, heard, said).ratio() > 0.9, heard  # tiny.en's usual slips
    assert len(heard) <= len(said) + 2  # and no repeating itself
    longest = question.then(silence(WHISPER_WINDOW_S))  # past 30 s: faster-whisper's path
    assert words(engines.recognizer.transcribe(longest).text) == words(QUESTION)


def test_a_short_opening_phrase_is_heard_on_the_short_window(engines):
    # Speech from its first sample (as the endpointer hands it over): without silence
    # before it, tiny.en on the short window dropped "Hi there," in 15 of 24 renderings
    # (2026-12-07). With it, tiny.en still slips now and then ("I dare", or the phrase
    # dropped: 1 of 150 renderings, and once in a fresh clone's run of this test when it
    # asked for 3 of 3), so the test asks for 13 of 16.
    heard = []
    for _ in range(16):
        spoken = mulaw_decode(mulaw_encode(trimmed(say(engines, "Hi there, I need some help "
                                                                 "with an order."))))
        heard.append(words(engines.recognizer.transcribe(spoken).text))
    assert sum({"there", "help", "order"} <= set(h) for h in heard) >= 13, heard


PRICES = ("Here is what I found: 1. Golden Shoes Woman, $49.99, in stock, 88 left. "
          "2. Red Shoes, $34.99, in stock, 7 left. 3. Calvin Klein Heel Shoes, $79.99, in "
          "stock, 93 left.")
"""The spoken answer of ``action_product_search`` (three products, prices, stock)."""


def test_a_transcript_that_reaches_the_token_budget_is_read_again_on_30_seconds(
        engines, monkeypatch):
    # A loop or fast speech can fill the short window's budget; what reaches it is read
    # again, not cut off.  With one token a second (about 28 here) this answer reaches it.
    prices = mulaw_decode(mulaw_encode(say(engines, PRICES)))  # as a caller hears it
    monkeypatch.setattr(asr, "_TOKENS_PER_S", 1)
    heard = words(engines.recognizer.transcribe(prices).text)
    assert {"calvin", "klein", "93"} <= set(heard), heard


@pytest.mark.parametrize(("text", "repeats"), [
    ("Do you sell running shoes for women? Do you sell running shoes for women?", True),
    ("and stock, 93 left. 93 left, 93 left.", True),
    ("Hello? Hello? Is anyone there?", False),
    ("I have a problem with my payment. I have a problem.", False),
    ("Yes. No. Yes.", False),
])
def test_a_sentence_said_again_and_again_is_a_repeating_decoder(text, repeats):
    assert asr.repeats_a_sentence(text) is repeats


def test_a_long_silence_is_read_on_the_30_second_window(engines, question):
    # Eleven quiet seconds before the words: on a 15 s window tiny.en said them twice.
    late = silence(11.0).then(question)
    assert longest_quiet_s(late.at(16000).samples) == pytest.approx(11.0, abs=0.05)
    assert words(engines.recognizer.transcribe(late).text) == words(QUESTION)
    assert longest_quiet_s(question.at(16000).samples) < 1.0


def test_window_comes_from_the_environment_and_sequential_keeps_30_seconds(env):
    env.set("TOUCHLINE_ASR_WINDOW_S", "20")
    assert load_recognizer().window_s == 20.0
    env.set("TOUCHLINE_VOICE_PIPELINE", "sequential")
    assert load_recognizer().window_s == WHISPER_WINDOW_S
    for bad in ("9", "31", "soon"):
        env.set("TOUCHLINE_ASR_WINDOW_S", bad)
        with pytest.raises(ValueError):
            load_recognizer()


def test_the_workers_share_the_cpus(env):
    """Whisper's workers get the CPUs shared out (at most 2 threads each, at least 1);
    the sequential pipeline keeps its one worker of 2 threads."""
    assert [worker_threads(w, cpus=2) for w in (1, 2, 4)] == [2, 1, 1]
    assert [worker_threads(w, cpus=16) for w in (1, 2, 8, 16)] == [2, 2, 2, 1]
    env.set("TOUCHLINE_ASR_WORKERS", "2")
    recognizer = load_recognizer()
    assert recognizer.threads == worker_threads(2)
    assert (recognizer._solo is not None) == (worker_threads(1) > worker_threads(2))
    env.set("TOUCHLINE_VOICE_PIPELINE", "sequential")
    assert load_recognizer().threads == 2


def test_piper_threads_sleep_when_idle(engines):
    """Piper's onnxruntime threads do not spin between operations (they took the CPUs
    from Whisper on 2 cores, ``bot.speech.tts.sleeping_session``)."""
    options = engines.synthesizer._voice.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert len(list(engines.synthesizer.speak("Hello there. How can I help?"))) == 2
