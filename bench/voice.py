"""Voice benchmark: speech recognition accuracy and speed, and phone-call reply latency.

Three parts, on the spoken support questions of ``bench/data/voice_questions.txt``:

1. **Word error rate** of each recogniser (Whisper tiny.en, the default, on faster-whisper's
   30 s window and on the 10 s window the speculative pipeline reads (``--asr-windows``:
   others), and pocketsphinx,
   the fallback and the named baseline) on each question synthesised by four voices (Piper
   joe at its own pace and slowed down with ``length_scale`` 1.2, espeak-ng ``en-us`` and
   ``en-gb+f3``), at two rates: 16 kHz 16-bit PCM, and 8 kHz telephone audio round-tripped
   through G.711 µ-law (``mulaw_encode``/``mulaw_decode``).  WER is corpus-level: word
   edits (substitutions + deletions + insertions, Levenshtein over words) divided by the
   reference words, after :func:`normalise` on both sides.
2. **Real-time factor**: recognition seconds / audio seconds of each recogniser (at each
   rate), and synthesis seconds / audio seconds of each voice (plus how long the first
   sentence took, which is what a caller waits for).
3. **Call latency** over the real gateway: a Rasa stack (action server + Rasa server with
   ``credentials.yml``, whose voice channel serves Twilio Media Streams at
   ``/webhooks/voice/stream``) and simulated Twilio calls
   (``testing/twilio_caller.py``) that speak the questions in real time (20 ms
   µ-law frames).  Latency = from the caller's last speech frame (Piper audio trimmed of its
   leading and trailing silence, so this is the true end of speech) to the first reply
   ``media`` frame.  The default engines (Whisper + Piper) are measured on both call
   pipelines (``$TOUCHLINE_VOICE_PIPELINE``), each on its own server: ``sequential`` (the
   former path and the baseline: fixed 0.35 s end of turn, one recogniser on the 30 s
   window) and ``speculative`` (speculative turns, adaptive end of turn, recogniser
   workers on a 10 s window, prepared reply openings); then, unless
   ``--no-fallback-calls``, the fallback engines (pocketsphinx + espeak-ng).  Each
   pipeline is measured with one call at a time and with :data:`SIMULTANEOUS` callers at
   once (the questions dealt out between them).  Targets
   (issue #20): p95 ≤ :data:`TARGET_P95_MS` and at least 25% below the sequential p95 in
   the same run, no more false cut-offs than the baseline, p95 ≤
   :data:`TARGET_SIMULTANEOUS_P95_MS` with simultaneous calls.  A false cut-off is a
   question of which the gateway took a turn before the caller had finished saying it (a
   user event between the start and the end of the question's speech).  Each turn is
   broken down with the conversation
   tracker's event times (same machine clock): end of speech → Rasa user event (end-of-
   speech detection + waiting for the transcript + NLU), user event → last bot event
   (dialogue policies and custom actions), last bot event → first frame (synthesis of the
   first sentence + µ-law encoding + WebSocket).  When the gateway's endpointer (Silero
   VAD, default settings) reacts to the end of each question is simulated here on the same
   frames (media time, independent of load); the recogniser's own seconds come from the
   user event's ``metadata.voice.asr_s``.  A call holds at most six questions and ends
   after a human-handoff question (the bot then stays quiet for an agent); each call is
   preceded by its greeting, and one unmeasured call warms the server up.

The recognisers and voices of parts 1-2 run in this process (audio trimmed of leading and
trailing silence as for the calls), before any server starts.
Prints tables and writes ``bench/out/voice.json``.

Usage: ``python -m bench.voice [--quick] [--questions N] [--asr-windows S[,S...]]
[--call-questions N] [--no-fallback-calls] [--no-simultaneous] [--asr-only | --calls-only
| --pauses-only RENDERS]``.  ``--quick``: 8 questions for WER, 6 over calls (indicative
only); the default is every question of the data file for both.  ``--pauses-only``: how
long the silences inside the questions are as the gateway's VAD counts them, and how many
renderings each candidate end-of-turn window would cut (:func:`pauses`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
from tabulate import tabulate

from bot.config import ASR_WINDOW_S
from bot.speech.asr import Recognizer, SphinxRecognizer, WhisperRecognizer
from bot.speech.audio import (
    ASR_RATE,
    TELEPHONE_RATE,
    Audio,
    mulaw_decode,
    mulaw_encode,
    silence,
)
from bot.speech.tts import EspeakSynthesizer, PiperSynthesizer, Synthesizer
from bot.speech.vad import Endpointer

if TYPE_CHECKING:
    from testing.twilio_caller import TwilioCaller

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "bench" / "out"
QUESTIONS = ROOT / "bench" / "data" / "voice_questions.txt"
MODEL = ROOT / "models" / "touchline.tar.gz"
TARGET_P95_MS = 600.0
TARGET_SIMULTANEOUS_P95_MS = 800.0
TARGET_CUT_VS_BASELINE = 0.75
"""The speculative p95 must be at most this fraction of the sequential p95 (25% below)."""
SIMULTANEOUS = 4
"""Calls at once in the simultaneous-calls runs."""
PIPELINES = {"sequential": "sequential (baseline)", "speculative": "speculative"}
"""``$TOUCHLINE_VOICE_PIPELINE`` values measured, and their labels."""
BASELINE_ASR = "pocketsphinx"
TRIM_LEVEL = 0.01
"""Amplitude (full scale 1.0) below which leading and trailing samples count as silence."""
QUESTIONS_PER_CALL = 6
REPLY_TIMEOUT_S = 15.0
FRAME_MS = 20
"""Milliseconds of audio per Twilio media frame."""
QUIET_GAP_S = 0.8
"""Seconds without a message from the gateway after which a reply counts as finished."""

VOICES: dict[str, Callable[[], Synthesizer]] = {
    "piper joe": lambda: PiperSynthesizer(),
    "piper joe slow (length_scale 1.2)": lambda: PiperSynthesizer(length_scale=1.2),
    "espeak-ng en-us": lambda: EspeakSynthesizer("en-us"),
    "espeak-ng en-gb+f3": lambda: EspeakSynthesizer("en-gb+f3"),
}
RATES = ("16 kHz PCM", "8 kHz µ-law")


def engines(windows: tuple[float, ...] = (ASR_WINDOW_S,)) -> dict[str, Callable[[], Recognizer]]:
    """Recognisers compared: Whisper on faster-whisper's 30 s window (the former path), on
    each of ``windows`` (seconds; default: the speculative pipeline's), and the fallback
    (the WER baseline), by name in table order."""
    def short(window: float) -> Callable[[], Recognizer]:
        return lambda: WhisperRecognizer(window_s=window)

    return {"whisper": WhisperRecognizer,
            **{f"whisper {w:g} s window": short(w) for w in windows},
            BASELINE_ASR: SphinxRecognizer}


CANDIDATE_WINDOWS_S = (0.2, 0.25, 0.3, 0.35)
"""End-of-turn silence windows compared by ``--pauses-only`` (0.35: both pipelines')."""
SOCIAL_INTENTS = frozenset({"greet", "affirm", "deny", "thank", "goodbye"})
"""Turns a caller often continues after ("Hi there, | I need ..."): not requests."""
STAGES = {
    "to_user_event_ms": "end of speech -> Rasa user event",
    "vad_pause_ms": "· VAD pause: early transcription starts (simulated)",
    "vad_utterance_ms": "· VAD end of utterance, fixed 0.35 s window (simulated)",
    "asr_wait_nlu_ms": "· then waiting for the transcript + NLU",
    "asr_ms": "· recogniser call incl. lock wait (tracker asr_s)",
    "dialogue_ms": "Rasa user event -> last bot event (policies + actions)",
    "to_first_frame_ms": "last bot event -> first frame (TTS 1st sentence + send)",
}
"""Per-turn stages: the top-level rows add up to the latency (clock skew aside)."""


# --- text normalisation and WER ---------------------------------------------------------

NORMALISATION = (
    "lowercase; '$N' -> 'N dollars', '£N' -> 'N pounds', '%' -> 'percent'; thousands "
    "commas dropped; letters and digits split ('SPRING10' -> 'spring 10'); common English "
    "contractions expanded (\"doesn't\" -> 'does not'); punctuation (hyphens included) "
    "removed; digit strings of up to 9 digits spelled as the voices read them ('10001' -> "
    "'ten thousand one', 'and' inside a number dropped, as en-gb voices insert it); longer "
    "ones digit by digit; runs of single letters joined ('t l' -> 'tl'); British -> "
    "American spelling for metre(s)/colour/favourite/cancelled"
)
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**6, "million"), (1000, "thousand"), (100, "hundred"))
_NUMBER_WORDS = set(_ONES) | set(_TENS[2:]) | {s for _, s in _SCALES}
_CONTRACTIONS = {
    "can't": "can not", "cannot": "can not", "won't": "will not", "n't": " not",
    "let's": "let us", "i'm": "i am", "'re": " are", "'ve": " have", "'ll": " will",
    "'d": " would", "it's": "it is", "that's": "that is", "what's": "what is",
    "where's": "where is", "there's": "there is", "here's": "here is", "who's": "who is",
    "how's": "how is", "he's": "he is", "she's": "she is",
}
_SPELLING = {"metres": "meters", "metre": "meter", "colour": "color", "colours": "colors",
             "favourite": "favorite", "cancelled": "canceled"}


def number_words(n: int) -> list[str]:
    """``n`` (0 <= n < 10**9) in words, without "and": 10001 -> ten thousand one."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for value, name in _SCALES:
        if n >= value:
            rest = n % value
            return number_words(n // value) + [name] + (number_words(rest) if rest else [])
    raise ValueError(n)


def _expand(token: str) -> str:
    if token in _CONTRACTIONS:
        return _CONTRACTIONS[token]
    for suffix in ("n't", "'re", "'ve", "'ll", "'d"):
        if token.endswith(suffix):
            return token[: -len(suffix)] + _CONTRACTIONS[suffix]
    return token


def normalise(text: str) -> list[str]:
    """Words of ``text`` for WER (see :data:`NORMALISATION`)."""
    text = text.replace("’", "'")
    text = re.sub(r"\$\s?(\d[\d,]*)", r"\1 dollars", text)
    text = re.sub(r"£\s?(\d[\d,]*)", r"\1 pounds", text)
    text = text.replace("%", " percent")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text).lower()
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    text = " ".join(_expand(t) for t in text.split())
    text = re.sub(r"[^a-z0-9' ]+", " ", text).replace("'", "")
    words: list[str] = []
    for token in text.split():
        if token.isdigit():
            if len(token) <= 9 and not (len(token) > 1 and token[0] == "0"):
                words += number_words(int(token))
            else:
                words += [_ONES[int(d)] for d in token]
        else:
            words.append(_SPELLING.get(token, token))
    # "ten thousand and one" (en-gb) reads as "ten thousand one"
    words = [w for i, w in enumerate(words)
             if not (w == "and" and 0 < i < len(words) - 1 and words[i - 1] in _NUMBER_WORDS
                     and words[i + 1] in _NUMBER_WORDS)]
    joined: list[str] = []
    after_letter = False
    for w in words:  # "t l" -> "tl" (spelled-out letters), but not the words "a" and "i"
        letter = len(w) == 1 and w.isalpha() and w not in ("a", "i")
        if letter and after_letter:
            joined[-1] += w
        else:
            joined.append(w)
        after_letter = letter
    return joined


def word_edits(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions, deletions, insertions cost 1)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(pairs: list[tuple[str, str]]) -> dict:
    """Corpus WER of (reference, hypothesis) pairs: total edits / total reference words."""
    edits = words = 0
    for ref, hyp in pairs:
        r = normalise(ref)
        edits += word_edits(r, normalise(hyp))
        words += len(r)
    return {"wer": edits / words if words else 0.0, "edits": edits, "words": words}


# --- audio -------------------------------------------------------------------------------

def load_questions(path: Path = QUESTIONS) -> list[tuple[str, str]]:
    """(intent, question) pairs of the data file."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            intent, question = (s.strip() for s in line.split("|", 1))
            out.append((intent, question))
    return out


def nlu_examples(n: int, seed: int = 7) -> list[str]:
    """``n`` training examples of ``data/nlu`` (entity markup removed) of three words or
    more, drawn with ``seed``."""
    from rasa.shared.nlu.training_data.loading import load_data

    texts = sorted({str(m.get("text")) for path in (ROOT / "data" / "nlu").glob("*.yml")
                    for m in load_data(str(path)).intent_examples
                    if len(str(m.get("text")).split()) >= 3})
    return random.Random(seed).sample(texts, min(n, len(texts)))


def spread(items: list, n: int) -> list:
    """``n`` items spaced evenly through ``items`` (all of them when ``n`` >= len)."""
    if n >= len(items):
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 else items[:1]


def trim(audio: Audio, level: float = TRIM_LEVEL) -> Audio:
    """``audio`` without leading and trailing samples quieter than ``level``."""
    loud = np.nonzero(np.abs(audio.samples) > level)[0]
    if len(loud) == 0:
        return audio
    return Audio(audio.samples[loud[0]: loud[-1] + 1], audio.rate)


def synthesise(voice: Synthesizer, text: str) -> tuple[Audio, float, float]:
    """The whole of ``text`` spoken; seconds to synthesise it and its first sentence."""
    start = time.perf_counter()
    whole, first = None, 0.0
    for piece in voice.speak(text):
        if whole is None:
            first = time.perf_counter() - start
        whole = piece if whole is None else whole.then(piece)
    assert whole is not None, text
    return whole, time.perf_counter() - start, first


def at_rate(audio: Audio, rate: str) -> Audio:
    """``audio`` as 16 kHz 16-bit PCM, or as 8 kHz µ-law telephone audio decoded again."""
    if rate == RATES[0]:
        pcm = np.round(np.clip(audio.at(ASR_RATE).samples, -1, 1) * 32767) / 32767
        return Audio(pcm.astype(np.float32), ASR_RATE)
    return mulaw_decode(mulaw_encode(audio, TELEPHONE_RATE), TELEPHONE_RATE)


# --- part 1 and 2: WER and real-time factors --------------------------------------------

def recognition(questions: list[str], windows: tuple[float, ...] = (ASR_WINDOW_S,)) -> dict:
    """WER and real-time factors of every engine (:func:`engines` of ``windows``) x voice x
    rate, and of every voice."""
    tts: dict[str, dict] = {}
    audio: dict[tuple[str, str], list[Audio]] = {}
    for name, make in VOICES.items():
        voice = make()
        synthesise(voice, "Warming up.")
        synth_s = audio_s = 0.0
        firsts = []
        for q in questions:
            whole, seconds, first = synthesise(voice, q)
            synth_s += seconds
            audio_s += whole.seconds
            firsts.append(first * 1000)
            speech = trim(whole)
            for rate in RATES:
                audio.setdefault((name, rate), []).append(at_rate(speech, rate))
        tts[name] = {"rtf": synth_s / audio_s, "synth_s": synth_s, "audio_s": audio_s,
                     "first_sentence_p50_ms": float(np.percentile(firsts, 50)),
                     "first_sentence_p95_ms": float(np.percentile(firsts, 95))}
        print(f"  synthesised {len(questions)} questions with {name}", flush=True)
    asr: dict[str, dict] = {}
    for engine, make in engines(windows).items():
        recognizer = make()
        recognizer.transcribe(audio[(next(iter(VOICES)), RATES[0])][0])  # warm-up
        asr[engine] = {"by_voice": {}, "rtf": {}, "speed": {}}
        for rate in RATES:
            rec_s = aud_s = 0.0
            per_question_ms = []
            for name in VOICES:
                pairs, transcripts = [], []
                for q, a in zip(questions, audio[(name, rate)]):
                    t = recognizer.transcribe(a)
                    rec_s += t.seconds
                    aud_s += a.seconds
                    per_question_ms.append(1000 * t.seconds)
                    pairs.append((q, t.text))
                    transcripts.append(t.text)
                result = wer(pairs) | {"transcripts": transcripts}
                asr[engine]["by_voice"].setdefault(name, {})[rate] = result
            asr[engine]["rtf"][rate] = rec_s / aud_s
            asr[engine]["speed"][rate] = {
                "recognition_s": rec_s, "audio_s": aud_s,
                "per_question_p50_ms": float(np.percentile(per_question_ms, 50)),
                "per_question_p95_ms": float(np.percentile(per_question_ms, 95))}
            print(f"  {engine} {rate}: RTF {rec_s / aud_s:.3f}", flush=True)
        for rate in RATES:
            cells = [asr[engine]["by_voice"][v][rate] for v in VOICES]
            edits, words = sum(c["edits"] for c in cells), sum(c["words"] for c in cells)
            asr[engine].setdefault("by_rate", {})[rate] = {"wer": edits / words,
                                                          "edits": edits, "words": words}
        cells = list(asr[engine]["by_rate"].values())
        asr[engine]["all"] = sum(c["edits"] for c in cells) / sum(c["words"] for c in cells)
    return {"tts": tts, "asr": asr, "questions": questions}


# --- part 3: call latency over the gateway ----------------------------------------------

async def one_call(url: str, secret_signer: object, turns: list[tuple[str, str, Audio]],
                   clock_offset: float, listen: bool = False) -> tuple[str, list[dict]]:
    """One simulated call: wait for the greeting, then speak each question and time the
    reply.  Returns the call SID and one record per question.

    The next question comes :data:`QUIET_GAP_S` after the reply's last frame arrived, or
    with ``listen`` that long after the reply has played out (:func:`listen_out`).  The
    gateway sends a reply as fast as it synthesises it, so a caller who does not listen
    asks again while a real one would still hear the answer: four such callers make the
    machine synthesise replies two to three times faster than four people on the phone
    hear them."""
    from connectors.voice import CALL_STREAM, stream_claim
    from testing.twilio_caller import TwilioCaller

    sid = "CA" + uuid.uuid4().hex
    token = secret_signer.token(  # type: ignore[attr-defined]
        stream_claim(sid, TwilioCaller.caller_id), purpose=CALL_STREAM
    )
    records = []
    async with TwilioCaller(url, sid, token) as caller:
        await caller.wait_for("media", timeout=60)  # the greeting
        await caller.wait_quiet(QUIET_GAP_S)
        for intent, question, audio in turns:
            end = await caller.say(audio)
            rec = {"intent": intent, "question": question, "speech_s": audio.seconds,
                   "end_wall": end + clock_offset, "latency_ms": None}
            try:
                first = await caller.wait_for("media", after=end, timeout=REPLY_TIMEOUT_S)
            except AssertionError:
                records.append(rec)
                break  # no reply (human takeover after a misheard question): new call
            rec["latency_ms"] = (first.at - end) * 1000
            rec["first_wall"] = first.at + clock_offset
            await caller.wait_quiet(QUIET_GAP_S)
            if listen:
                await listen_out(caller, first.at, end)
            rec["reply_s"] = caller.audio(after=end).seconds
            rec["audible_ms"] = rec["latency_ms"] + FRAME_MS * leading_quiet_frames(
                caller.events("media", after=end))
            records.append(rec)
        await caller.hang_up()
    return sid, records


async def listen_out(caller: TwilioCaller, first_at: float, end: float) -> None:
    """Wait, as a person on the phone does, until the reply has played out and the line has
    been quiet for :data:`QUIET_GAP_S`: the phone plays the reply's audio in real time from
    its first frame (``first_at``, ``time.perf_counter()`` seconds) and audio that arrives
    while it plays, or before the quiet gap is over, is heard as part of it.  A pause in
    sending (a later sentence still being synthesised on a busy machine) is then not taken
    for the end of the reply.  ``end``: when the question ended (its reply's audio is what
    arrived after it)."""
    while True:
        heard = caller.audio(after=end).seconds
        await asyncio.sleep(max(0.0, first_at + heard + QUIET_GAP_S - time.perf_counter()))
        if caller.audio(after=end).seconds == heard:
            return


def leading_quiet_frames(frames: list) -> int:
    """How many reply frames come before the first audible one (Piper starts a sentence
    with a little silence; the line plays frames in real time, 20 ms each)."""
    for i, frame in enumerate(frames):
        payload = base64.b64decode(frame.message["media"]["payload"])
        if np.max(np.abs(mulaw_decode(payload).samples), initial=0.0) > TRIM_LEVEL:
            return i
    return len(frames)


LINE_SILENCE = b"\xff"
"""One sample of µ-law line silence."""


def line_frames(endpointer: Endpointer, audio: Audio, lead_s: float,
                tail_s: float) -> Iterator[list[tuple[str, Audio | None]]]:
    """Feed ``audio`` to ``endpointer`` as a caller's line carries it to the gateway:
    ``lead_s`` seconds of line silence, the audio, ``tail_s`` seconds of silence, in
    :data:`FRAME_MS` frames of 8 kHz µ-law, each decoded and resampled to 16 kHz as the
    gateway does.

    Yields:
        Each frame's endpointer events, after the frame is fed (``endpointer.heard_s`` is
        then the stream's clock).  The audio starts ``int(lead_s * 8000) / 8000`` s in.
    """
    import soxr

    lead = LINE_SILENCE * int(lead_s * TELEPHONE_RATE)
    data = lead + mulaw_encode(audio.then(silence(tail_s, audio.rate)), TELEPHONE_RATE)
    resampler = soxr.ResampleStream(TELEPHONE_RATE, ASR_RATE, 1, dtype="float32")
    frame = TELEPHONE_RATE * FRAME_MS // 1000
    for i in range(0, len(data), frame):
        yield endpointer.feed(resampler.resample_chunk(mulaw_decode(data[i:i + frame]).samples))


def endpointing(audio: Audio) -> dict:
    """When the gateway's endpointer (Silero VAD, default settings) reacts to the end of
    ``audio``, in ms of media time after it: the "pause" that starts the early
    transcription and the "utterance" that ends the turn; also the longest silence it
    counted before the end (``inner_silence_ms``: a silence window at or below it ends the
    turn inside the question).  Simulated on the same 8 kHz µ-law frames the caller sends,
    after one second of line silence (:func:`line_frames`)."""
    endpointer = Endpointer()
    end_s = 1.0 + audio.seconds
    out: dict = {"early_pauses": 0, "inner_silence_ms": 0.0}
    for events in line_frames(endpointer, audio, 1.0, 2.0):
        if endpointer.heard_s < end_s:  # the longest silence the VAD counts mid-question
            out["inner_silence_ms"] = max(out["inner_silence_ms"],
                                          1000 * endpointer.silent_s)
        for kind, _ in events:
            after_ms = 1000 * (endpointer.heard_s - end_s)
            if kind == "pause" and after_ms < 0:
                out["early_pauses"] += 1  # a pause inside the sentence: a discarded guess
            elif kind in ("pause", "utterance") and after_ms >= 0:
                out.setdefault(f"{kind}_ms", after_ms)
    return out


def calls_plan(turns: list[tuple[str, str, Audio]]) -> list[list[tuple[str, str, Audio]]]:
    """Questions grouped into calls of at most :data:`QUESTIONS_PER_CALL`, a call ending
    after a human_handoff question (the bot then stays quiet for a human agent)."""
    calls: list[list] = [[]]
    for turn in turns:
        calls[-1].append(turn)
        if turn[0] == "human_handoff" or len(calls[-1]) == QUESTIONS_PER_CALL:
            calls.append([])
    return [c for c in calls if c]


def mark_cut_offs(records: list[dict], spoken: list[dict]) -> None:
    """Set ``cut_off`` on each of one call's ``records`` (in the order asked), and
    ``cut_heard`` (the transcripts of its turns) on those cut: the gateway took a turn while
    the caller was still speaking.  Either that turn's user event falls inside the question,
    or, when its transcript took longer than the rest of the question, the question became
    more than one turn before the next question began.

    Args:
        records: the call's records, each with ``end_wall`` and ``speech_s`` (seconds).
        spoken: the call's spoken user events (``timestamp``, ``metadata.voice.transcript``).
    """
    starts = [r["end_wall"] - r["speech_s"] for r in records]
    for rec, started, after in zip(records, starts, [*starts[1:], float("inf")]):
        taken = [e for e in spoken if started < e["timestamp"] < after]
        rec["cut_off"] = (any(e["timestamp"] < rec["end_wall"] for e in taken)
                          or len(taken) > 1)
        if rec["cut_off"]:
            rec["cut_heard"] = [e["metadata"]["voice"]["transcript"] for e in taken]


def breakdown(stack_url: str, token: str, sid: str, records: list[dict]) -> None:
    """Add per-stage times (ms) to ``records`` from the call's tracker events."""
    r = httpx.get(f"{stack_url}/conversations/voice:{sid}/tracker",
                  params={"token": token}, timeout=30)
    r.raise_for_status()
    events = r.json().get("events", [])
    spoken = [e for e in events if e.get("event") == "user"
              and ((e.get("metadata") or {}).get("voice") or {}).get("transcript")]
    mark_cut_offs(records, spoken)
    for rec in records:
        if rec["latency_ms"] is None:
            continue
        users = [e for e in events if e.get("event") == "user"
                 and rec["end_wall"] < e["timestamp"] < rec["first_wall"]
                 and ((e.get("metadata") or {}).get("voice") or {}).get("transcript")]
        if not users:
            continue
        user = users[0]
        voice = user["metadata"]["voice"]
        rec["heard"] = voice["transcript"]
        rec["speculative"] = "speculative" in voice
        rec["asr_ms"] = 1000 * voice.get("asr_s", float("nan"))
        said = [e for e in events if e.get("event") == "bot"
                and user["timestamp"] <= e["timestamp"] < rec["first_wall"]]
        bots = [e["timestamp"] for e in said]
        rec["reply"] = " ".join(str(e.get("text") or "") for e in said)
        rec["to_user_event_ms"] = 1000 * (user["timestamp"] - rec["end_wall"])
        if bots:
            rec["dialogue_ms"] = 1000 * (max(bots) - user["timestamp"])
            rec["to_first_frame_ms"] = 1000 * (rec["first_wall"] - max(bots))


def _stats(values: list[float]) -> dict:
    values = [v for v in values if v is not None and v == v]
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95)), "max": float(max(values))}


def deal(turns: list[tuple[str, str, Audio]], n: int = SIMULTANEOUS
         ) -> list[list[list[tuple[str, str, Audio]]]]:
    """The questions dealt out between ``n`` simulated callers, each caller's share split
    into calls by :func:`calls_plan` (a call ends after a ``human_handoff`` question: the
    bot then rightly stays quiet, and a question after it would get no reply).

    Returns:
        Per caller (at most ``n``, none empty), that caller's calls, made one after another.
    """
    return [calls_plan(turns[i::n]) for i in range(n) if turns[i::n]]


async def simultaneous_calls(url: str, signer: object, turns: list[tuple[str, str, Audio]],
                             clock_offset: float, n: int = SIMULTANEOUS, listen: bool = True
                             ) -> list[tuple[str, list[dict]]]:
    """``n`` callers at once, the questions dealt out between them (:func:`deal`); each
    makes its calls (as :func:`one_call`, listening to each reply unless ``listen`` is
    false) one after another."""
    async def caller(calls: list[list[tuple[str, str, Audio]]]) -> list[tuple[str, list[dict]]]:
        return [await one_call(url, signer, call, clock_offset, listen) for call in calls]

    done = await asyncio.gather(*(caller(calls) for calls in deal(turns, n)))
    return [call for calls in done for call in calls]


def summary(records: list[dict]) -> dict:
    """Latency statistics, false cut-offs and WER of what the gateway heard."""
    done = [r["latency_ms"] for r in records if r["latency_ms"] is not None]
    heard = [(r["question"], r["heard"]) for r in records if "heard" in r]
    return {
        "turns": len(records),
        "no_reply": sum(r["latency_ms"] is None for r in records),
        "false_cut_offs": sum(bool(r.get("cut_off")) for r in records),
        "speculative_commits": sum(bool(r.get("speculative")) for r in records),
        "latency_ms": _stats(done),
        "audible_ms": _stats([r.get("audible_ms") for r in records]),
        "stages_ms": {k: _stats([r.get(k) for r in records]) for k in STAGES},
        "call_wer": wer(heard) if heard else None,
    }


def measure_simultaneous(label: str, stack: object, turns: list[tuple[str, str, Audio]],
                         listen: bool = True) -> dict:
    """:data:`SIMULTANEOUS` calls at once against a started (warm) stack, the callers
    listening to each reply (``listen``, :func:`one_call`)."""
    from connectors.socketio import SessionSigner

    signer = SessionSigner.from_env()
    offset = time.time() - time.perf_counter()
    url = f"ws://127.0.0.1:{stack.rasa_port}/webhooks/voice/stream"  # type: ignore[attr-defined]
    records: list[dict] = []
    for sid, recs in asyncio.run(simultaneous_calls(url, signer, turns, offset,
                                                    listen=listen)):
        breakdown(stack.url, stack.token, sid, recs)  # type: ignore[attr-defined]
        records += [r | {"call": sid} for r in recs]
    print(f"  {label}, {SIMULTANEOUS} calls at once: latencies "
          f"{[round(r['latency_ms']) if r['latency_ms'] else None for r in records]}",
          flush=True)
    return summary(records) | {"records": records}


def measure_calls(label: str, stack: object, turns: list[tuple[str, str, Audio]],
                  warmup: tuple[str, str, Audio], vad: dict[str, dict]) -> dict:
    """Run the calls against a started stack; latency statistics and per-turn records."""
    from connectors.sessions import SessionSigner

    health = httpx.get(f"{stack.url}/webhooks/voice/", timeout=240).json()  # type: ignore[attr-defined]
    signer = SessionSigner.from_env()
    offset = time.time() - time.perf_counter()
    url = f"ws://127.0.0.1:{stack.rasa_port}/webhooks/voice/stream"  # type: ignore[attr-defined]
    asyncio.run(one_call(url, signer, [warmup], offset))  # warm the server's engines
    records: list[dict] = []
    for plan in calls_plan(turns):
        sid, recs = asyncio.run(one_call(url, signer, plan, offset))
        breakdown(stack.url, stack.token, sid, recs)  # type: ignore[attr-defined]
        for r in recs:
            r["call"] = sid
        records += recs
        print(f"  {label}: {len(records)}/{len(turns)} turns, last latencies "
              f"{[round(r['latency_ms']) if r['latency_ms'] else None for r in recs]}",
              flush=True)
    asked = {r["question"] for r in records}
    missing = [t for t in turns if t[1] not in asked]  # after a reply that never came
    for plan in calls_plan(missing):
        sid, recs = asyncio.run(one_call(url, signer, plan, offset))
        breakdown(stack.url, stack.token, sid, recs)  # type: ignore[attr-defined]
        records += [r | {"call": sid} for r in recs]
    for r in records:
        v = vad[r["question"]]
        r["vad_pause_ms"], r["early_pauses"] = v.get("pause_ms"), v["early_pauses"]
        r["inner_silence_ms"] = v["inner_silence_ms"]
        if label == PIPELINES["speculative"]:
            continue  # its end of turn depends on the early transcript: not simulated
        r["vad_utterance_ms"] = v.get("utterance_ms")
        if "to_user_event_ms" in r and r["vad_utterance_ms"] is not None:
            r["asr_wait_nlu_ms"] = r["to_user_event_ms"] - r["vad_utterance_ms"]
    return {"engines": health, **summary(records), "records": records}


def latency(n: int, fallback: bool, simultaneous: bool = True, listen: bool = True) -> dict:
    """Start a stack per pipeline with the default engines (then one with the fallback
    engines) and call it, one call at a time and (unless ``simultaneous`` is false)
    :data:`SIMULTANEOUS` at once, those callers listening to each reply (``listen``,
    :func:`one_call`)."""
    from testing.stack import Stack, prepare_features, stack_env, train_model

    secret = secrets.token_hex(24)
    os.environ["TOUCHLINE_SESSION_SECRET"] = secret
    questions = spread(load_questions(), n)
    piper = PiperSynthesizer()
    turns = [(intent, q, trim(synthesise(piper, q)[0])) for intent, q in questions]
    warmup = ("greet", "Hello.", trim(synthesise(piper, "Hello.")[0]))
    vad = {q: endpointing(a) for _, q, a in turns}
    results = {}
    with tempfile.TemporaryDirectory(prefix="voice-bench-") as tmp:
        work = Path(tmp)
        model = MODEL if MODEL.exists() else train_model(work / "models", name="touchline")
        base = {"TOUCHLINE_SESSION_SECRET": secret, "TOUCHLINE_VOICE_SILENCE_S": "120",
                "TOUCHLINE_VOICE_ON_DEMAND": "0"}
        env = stack_env(work, **base)
        prepare_features(env)
        default = {"TOUCHLINE_ASR_ENGINE": "whisper", "TOUCHLINE_TTS_ENGINE": "piper"}
        setups = {label: default | {"TOUCHLINE_VOICE_PIPELINE": pipeline}
                  for pipeline, label in PIPELINES.items()}
        if fallback:
            setups["fallback (pocketsphinx + espeak-ng)"] = {
                "TOUCHLINE_ASR_ENGINE": "pocketsphinx", "TOUCHLINE_TTS_ENGINE": "espeak"}
        for label, engines in setups.items():
            stack = Stack(work, model, env | engines).start()
            try:
                results[label] = measure_calls(label, stack, turns, warmup, vad)
                if simultaneous and label in PIPELINES.values():
                    results[label]["simultaneous"] = measure_simultaneous(label, stack, turns,
                                                                          listen)
            finally:
                stack.close()
    return results


def pauses(renders: int, windows: tuple[float, ...] = CANDIDATE_WINDOWS_S) -> dict:
    """The silences inside the questions as the gateway's VAD counts them: each question
    rendered ``renders`` times by Piper (its pauses vary between renderings), trimmed,
    endpointed (:func:`endpointing`).  A silence window at or below a question's inner
    silence ends the turn inside it (a false cut-off, if the words so far also read as a
    complete request), so this bounds how short the end of turn may be.

    Returns:
        ``{"renders", "questions": [{"intent", "question", "inner_silence_ms": [per
        rendering]}], "cut": {window seconds: {"all": renderings cut, "requests": those
        of questions that are not social turns (:data:`SOCIAL_INTENTS`)}}}``.
    """
    piper = PiperSynthesizer()
    rows = []
    for intent, question in load_questions():
        inner = [endpointing(trim(synthesise(piper, question)[0]))["inner_silence_ms"]
                 for _ in range(renders)]
        rows.append({"intent": intent, "question": question, "inner_silence_ms": inner})
    cut = {str(w): {"all": sum(ms >= 1000 * w for r in rows for ms in r["inner_silence_ms"]),
                    "requests": sum(ms >= 1000 * w for r in rows
                                    if r["intent"] not in SOCIAL_INTENTS
                                    for ms in r["inner_silence_ms"])}
           for w in windows}
    return {"renders": renders, "questions": rows, "cut": cut}


# --- report ------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def tables(results: dict) -> str:
    """The printed report (GitHub-flavoured Markdown tables)."""
    out = []
    rec = results.get("recognition")
    if rec:
        asr = rec["asr"]
        names = list(asr)
        cells = [(voice, rate, [asr[e]["by_voice"][voice][rate]["wer"] for e in names])
                 for voice in VOICES for rate in RATES]
        cells += [("all voices", rate, [asr[e]["by_rate"][rate]["wer"] for e in names])
                  for rate in RATES]
        cells.append(("all voices", "both", [asr[e]["all"] for e in names]))
        rows = [[voice, rate, *map(_pct, wers),
                 f"{wers[0] / wers[-1]:.2f}" if wers[-1] else "-"]
                for voice, rate, wers in cells]
        out.append(f"WER (%) on {len(rec['questions'])} questions (baseline: {BASELINE_ASR})")
        out.append(tabulate(rows, ["voice", "audio", *names, "ratio whisper/baseline"],
                            tablefmt="github"))
        rows = [[f"ASR {e}", rate, f"{asr[e]['rtf'][rate]:.3f}",
                 f"{asr[e]['speed'][rate]['per_question_p50_ms']:.0f} / "
                 f"{asr[e]['speed'][rate]['per_question_p95_ms']:.0f}"]
                for e in names for rate in RATES]
        rows += [[f"TTS {v}", "native", f"{t['rtf']:.3f}",
                  f"{t['first_sentence_p50_ms']:.0f} / {t['first_sentence_p95_ms']:.0f}"]
                 for v, t in rec["tts"].items()]
        out.append("\nReal-time factor (processing seconds / audio seconds; lower is faster), in "
                   "this process")
        out.append(tabulate(rows, ["engine", "audio", "RTF",
                                   "ms per question (ASR) or first sentence (TTS), p50 / p95"],
                            tablefmt="github"))
    inner = results.get("pauses")
    if inner:
        rows = sorted(([max(r["inner_silence_ms"]), r["intent"], r["question"]]
                       for r in inner["questions"]), reverse=True)
        out.append(f"\nLongest silence the VAD counts inside each question, ms (max of "
                   f"{inner['renders']} Piper renderings), top 10")
        out.append(tabulate([[f"{ms:.0f}", i, q] for ms, i, q in rows[:10]],
                            ["inner silence", "intent", "question"], tablefmt="github"))
        total = inner["renders"] * len(inner["questions"])
        out.append("\nRenderings a silence window would cut inside the question "
                   f"(of {total}; requests: not {', '.join(sorted(SOCIAL_INTENTS))})")
        out.append(tabulate([[w, c["all"], c["requests"]] for w, c in inner["cut"].items()],
                            ["window (s)", "all", "requests"], tablefmt="github"))
    calls = results.get("calls")
    if calls:
        rows = []
        base = calls.get(PIPELINES["sequential"], {})
        for label, r in calls.items():
            runs = [("1 at a time", r)]
            if "simultaneous" in r:
                runs.append((f"{SIMULTANEOUS} at once", r["simultaneous"]))
            for how, run in runs:
                rows.append([label, how, *_call_row(label, how, run, base)])
        out.append(f"\nEnd of caller speech -> first reply frame over the gateway (ms); "
                   f"targets: speculative p95 <= {TARGET_P95_MS:.0f} ms and <= "
                   f"{TARGET_CUT_VS_BASELINE:.0%} of the sequential p95 of this run, no more "
                   f"false cut-offs; {SIMULTANEOUS} at once p95 <= "
                   f"{TARGET_SIMULTANEOUS_P95_MS:.0f} ms")
        out.append(tabulate(rows, ["pipeline / engines", "calls", "turns", "no reply",
                                   "false cut-offs", "speculative commits", "p50", "p95",
                                   "max", "target", "audible p50 / p95", "call WER %"],
                            tablefmt="github"))
        out.append("audible: first frame + the reply's leading silent frames x 20 ms (when the "
                   "caller hears a voice); call WER: what the gateway heard (8 kHz µ-law, "
                   "endpointed by the VAD) against the questions; false cut-off: a turn "
                   "taken before the caller finished the question")
        rows = []
        for key, name in STAGES.items():
            row = [name]
            for r in calls.values():
                s = r["stages_ms"][key]
                row.append(f"{s['p50']:.0f} / {s['p95']:.0f}" if s["n"] else "-")
            rows.append(row)
        out.append("\nPer-stage breakdown, p50 / p95 (ms), from tracker event times")
        out.append(tabulate(rows, ["stage", *calls], tablefmt="github"))
    return "\n".join(out)


def _call_row(label: str, how: str, run: dict, base: dict) -> list:
    """Table cells of one call run (see :func:`tables`)."""
    lat, aud = run["latency_ms"], run["audible_ms"]
    p95 = lat.get("p95", float("inf"))
    if label == PIPELINES["speculative"] and how == "1 at a time":
        base_p95 = base.get("latency_ms", {}).get("p95", float("nan"))
        ok = (p95 <= TARGET_P95_MS and p95 <= TARGET_CUT_VS_BASELINE * base_p95
              and run["false_cut_offs"] <= base.get("false_cut_offs", 0))
        target = "PASS" if ok else "FAIL"
    elif label == PIPELINES["speculative"]:
        target = "PASS" if p95 <= TARGET_SIMULTANEOUS_P95_MS else "FAIL"
    else:
        target = "-"
    cw = _pct(run["call_wer"]["wer"]) if run["call_wer"] else "-"
    return [run["turns"], run["no_reply"], run["false_cut_offs"], run["speculative_commits"],
            f"{lat.get('p50', 0):.0f}", f"{lat.get('p95', 0):.0f}", f"{lat.get('max', 0):.0f}",
            target, f"{aud.get('p50', 0):.0f} / {aud.get('p95', 0):.0f}", cw]


def main() -> None:
    """Run the parts, print the tables, write ``bench/out/voice.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 WER and 6 call questions")
    parser.add_argument("--questions", type=int, help="questions for WER (default: all)")
    parser.add_argument("--nlu-examples", type=int, metavar="N",
                        help="WER on N examples of data/nlu (seeded draw) instead of the "
                             "questions: text the recognisers' settings were not chosen on")
    parser.add_argument("--asr-windows", type=lambda raw: tuple(map(float, raw.split(","))),
                        default=(ASR_WINDOW_S,), metavar="S[,S...]",
                        help="Whisper windows (seconds) compared with the 30 s one for WER "
                             f"(default: {ASR_WINDOW_S:g}, the speculative pipeline's)")
    parser.add_argument("--call-questions", type=int, help="questions spoken over calls")
    parser.add_argument("--no-fallback-calls", action="store_true",
                        help="skip the fallback-engine stack")
    parser.add_argument("--no-simultaneous", action="store_true",
                        help=f"skip the {SIMULTANEOUS}-calls-at-once runs")
    parser.add_argument("--eager-callers", action="store_true",
                        help=f"the {SIMULTANEOUS} callers at once ask again as soon as a "
                             "reply's last frame arrived instead of after hearing it (the "
                             "runs up to 2026-12-06's voice_calls_avx2_Q)")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--asr-only", action="store_true", help="parts 1-2 only")
    part.add_argument("--calls-only", action="store_true", help="part 3 only")
    part.add_argument("--pauses-only", type=int, metavar="RENDERS",
                      help="only the silences inside the questions (RENDERS renderings each)")
    parser.add_argument("--out", type=Path, default=OUT / "voice.json")
    args = parser.parse_args()
    all_questions = load_questions()
    n_wer = args.questions or (8 if args.quick else len(all_questions))
    n_calls = args.call_questions or (6 if args.quick else len(all_questions))
    started = time.perf_counter()
    results: dict = {"settings": {
        "quick": args.quick, "wer_questions": n_wer, "call_questions": n_calls,
        "cpus": os.cpu_count(), "load_avg_start": os.getloadavg(),
        "normalisation": NORMALISATION, "target_p95_ms": TARGET_P95_MS,
        "baseline": BASELINE_ASR, "simultaneous_callers_listen": not args.eager_callers,
        "model": str(MODEL) if MODEL.exists() else "trained for this run"}}
    if args.pauses_only:
        results["pauses"] = pauses(args.pauses_only)
    elif not args.calls_only:
        print("recognition and synthesis ...", flush=True)
        texts = (nlu_examples(args.nlu_examples) if args.nlu_examples
                 else [q for _, q in spread(all_questions, n_wer)])
        results["settings"]["wer_texts"] = "data/nlu" if args.nlu_examples else "questions"
        results["recognition"] = recognition(texts, args.asr_windows)
    if not (args.asr_only or args.pauses_only):
        print("calls over the voice gateway ...", flush=True)
        results["calls"] = latency(n_calls, not args.no_fallback_calls,
                                   not args.no_simultaneous, not args.eager_callers)
    results["settings"]["load_avg_end"] = os.getloadavg()
    results["settings"]["wall_s"] = time.perf_counter() - started
    print()
    print(tables(results))
    print(f"\nload average start {results['settings']['load_avg_start']}, "
          f"end {results['settings']['load_avg_end']} ({os.cpu_count()} CPUs)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
