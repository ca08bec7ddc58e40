"""What the phone gateway hears, offline: both call pipelines on many renderings at once.

A live call run (``python -m bench.voice --calls-only``) speaks each question once, so its
word error rate rests on 262 words and its false cut-offs on 34 turns, and both move from
run to run with Piper's rendering and with where the VAD's 32 ms windows fall.  Here the
same questions (and a seeded draw of ``data/nlu`` examples, text the recognisers' settings
were not chosen on) are rendered by Piper ``--renders`` times and fed, after a random
stretch of line silence, through each pipeline's own endpointer and recogniser as the
gateway does: 20 ms frames of 8 kHz µ-law, resampled to 16 kHz, into
:class:`~bot.speech.vad.Endpointer` with the pipeline's settings; each pause's audio
transcribed; the turn's transcript is the last pause's (the gateway answers from it).  The
``speculative`` pipeline shortens the end of turn when the pause's transcript reads as a
complete request, here taken as understood by NLU whenever it ends with a word (the
gateway asks NLU first): that shortens it at least as often as a call does, so its false
cut-offs here are an upper bound.  Media time, not wall time: nothing waits for the
recogniser, and the load of the machine does not change the outcome.

Per pipeline it reports the WER of what was heard (the transcripts of all the turns a
question became, :func:`bench.voice.wer`), the false cut-offs (a question whose first turn
ended before its speech did), when the first turn ended after the end of the question's
speech (media ms: the end-of-turn part of a call's latency) and the recogniser's
milliseconds per transcript.  ``--complete-windows`` runs the speculative pipeline again
with other ends of turn after a complete request, to weigh the time they save against
the callers they cut off.

Usage: ``python -m bench.voice_heard [--renders N] [--nlu-examples N] [--complete-windows
S[,S...]] [--out PATH]``.  Prints a table and writes ``bench/out/voice_heard.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tabulate import tabulate

from bench.voice import (
    OUT,
    PIPELINES,
    line_frames,
    load_questions,
    nlu_examples,
    synthesise,
    trim,
    wer,
)
from bot.speech.asr import Recognizer, load_recognizer
from bot.speech.audio import TELEPHONE_RATE, Audio
from bot.speech.tts import PiperSynthesizer
from bot.speech.turn_end import complete_request
from bot.speech.vad import Endpointer, EndpointSettings
from connectors.voice_call import CallSettings

LEAD_S = (1.0, 1.5)
"""Seconds of line silence before a question, drawn uniformly: where the question starts
against the VAD's windows varies as it does between calls."""
TAIL_S = 2.0
"""Seconds of line silence after a question (past the longest end of turn, 0.75 s)."""


@dataclass(frozen=True)
class Heard:
    """One question through one pipeline.

    Attributes:
        turns: the transcript of each turn the question became, in order.
        end_ms: media milliseconds from the end of the question's speech to the end of its
            first turn (negative when cut off; ``None`` when no turn was taken).
        asr_ms: milliseconds of each transcription made (one per pause).
    """

    turns: list[str]
    end_ms: float | None
    asr_ms: list[float]

    @property
    def cut_off(self) -> bool:
        """Whether the first turn ended before the question's speech did."""
        return self.end_ms is not None and self.end_ms < 0


def hear(audio: Audio, lead_s: float, pipeline: str, recognizer: Recognizer,
         complete_silence_s: float | None = None) -> Heard:
    """Stream ``audio`` as a caller's line carries it through ``pipeline``'s endpointer and
    ``recognizer`` (see the module docstring).

    Args:
        audio: the question, trimmed of leading and trailing silence, any rate.
        lead_s: seconds of line silence before it.
        pipeline: ``"sequential"`` or ``"speculative"``.
        recognizer: the recogniser that pipeline loads.
        complete_silence_s: the speculative pipeline's end of turn after a complete
            request, in place of its own (a candidate window; seconds).

    Returns:
        The turns heard, whether the question was cut and when its first turn ended, the
        transcription times.
    """
    adaptive = CallSettings.for_pipeline(pipeline, silence_s=10.0)
    settings: EndpointSettings = adaptive.endpoint
    if complete_silence_s is not None:
        settings = dataclasses.replace(settings, complete_silence_s=complete_silence_s)
    endpointer = Endpointer(settings)
    speech_end_s = int(lead_s * TELEPHONE_RATE) / TELEPHONE_RATE + audio.seconds
    turns: list[str] = []
    asr_ms: list[float] = []
    end_ms: float | None = None
    last = ""
    for events in line_frames(endpointer, audio, lead_s, TAIL_S):
        for kind, heard in events:
            if kind == "pause" and heard is not None:
                transcript = recognizer.transcribe(heard)
                asr_ms.append(1000 * transcript.seconds)
                last = transcript.text
                if adaptive.speculative and complete_request(last, understood=True):
                    endpointer.words_complete()
            elif kind == "utterance":
                turns.append(last)
                if end_ms is None:
                    end_ms = 1000 * (endpointer.heard_s - speech_end_s)
    return Heard(turns, end_ms, asr_ms)


def measure(renders: int, n_nlu: int, windows: tuple[float, ...] = (), seed: int = 1) -> dict:
    """Render every question ``renders`` times and ``n_nlu`` ``data/nlu`` examples once;
    hear each rendering through both pipelines after the same line silence, and through
    the speculative one again with each of ``windows`` as its end of turn after a complete
    request (seconds).

    Returns:
        ``{"renders", "nlu_examples", "pipelines": {label: {"questions": WER dict,
        "nlu": WER dict or None, "all": WER dict, "false_cut_offs", "cut": [[text,
        [turns]], ...], "end_ms": {"p50", "p95"} (questions only), "asr_ms": {"p50",
        "p95"}, "heard": [[text, [turns]], ...]}}}``.
    """
    rng = random.Random(seed)
    piper = PiperSynthesizer()
    questions = [q for _, q in load_questions()] * renders
    texts = questions + (nlu_examples(n_nlu) if n_nlu else [])
    spoken = [(t, trim(synthesise(piper, t)[0]), rng.uniform(*LEAD_S)) for t in texts]
    print(f"  rendered {len(spoken)} utterances", flush=True)
    runs: list[tuple[str, str, float | None]] = [
        (label, pipeline, None) for pipeline, label in PIPELINES.items()]
    runs += [(f"{PIPELINES['speculative']}, {w:g} s after a complete request", "speculative", w)
             for w in windows]
    out: dict = {"renders": renders, "nlu_examples": n_nlu, "pipelines": {}}
    recognizers: dict[str, Recognizer] = {}
    for label, pipeline, window in runs:
        if pipeline not in recognizers:
            recognizers[pipeline] = load_recognizer("whisper", pipeline)
            recognizers[pipeline].transcribe(spoken[0][1])  # warm-up
        heard = [(t, hear(a, lead, pipeline, recognizers[pipeline], window))
                 for t, a, lead in spoken]
        out["pipelines"][label] = summary(heard, len(questions), n_nlu > 0)
        print(f"  {label}: heard {len(heard)}", flush=True)
    return out


def summary(heard: list[tuple[str, Heard]], n_questions: int, nlu: bool) -> dict:
    """WER, false cut-offs, end of turn and recogniser times of one run (see
    :func:`measure`); the first ``n_questions`` texts are the questions."""
    pairs = [(t, " ".join(h.turns)) for t, h in heard]
    ms = [x for _, h in heard for x in h.asr_ms]
    ends = [h.end_ms for _, h in heard[:n_questions] if h.end_ms is not None]
    return {
        "questions": wer(pairs[:n_questions]),
        "nlu": wer(pairs[n_questions:]) if nlu else None,
        "all": wer(pairs),
        "false_cut_offs": sum(h.cut_off for _, h in heard),
        "cut": [[t, h.turns] for t, h in heard if h.cut_off],
        "end_ms": {"p50": float(np.percentile(ends, 50)), "p95": float(np.percentile(ends, 95))},
        "asr_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))},
        "heard": [[t, h.turns] for t, h in heard],
    }


def table(results: dict) -> str:
    """The printed report (a GitHub-flavoured Markdown table)."""
    def cell(w: dict | None) -> str:
        return f"{100 * w['wer']:.1f} ({w['edits']}/{w['words']})" if w else "-"

    rows = [[label, cell(p["questions"]), cell(p["nlu"]), cell(p["all"]), p["false_cut_offs"],
             f"{p['end_ms']['p50']:.0f} / {p['end_ms']['p95']:.0f}",
             f"{p['asr_ms']['p50']:.0f} / {p['asr_ms']['p95']:.0f}"]
            for label, p in results["pipelines"].items()]
    return (f"What the gateway hears: {results['renders']} Piper renderings of each question, "
            f"{results['nlu_examples']} data/nlu examples, 8 kHz µ-law\n"
            + tabulate(rows, ["pipeline", "WER % questions (edits/words)", "WER % data/nlu",
                              "WER % all", "false cut-offs",
                              "end of turn after speech, ms p50 / p95 (questions)",
                              "ASR ms p50 / p95"], tablefmt="github"))


def main() -> None:
    """Measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=3, help="renderings of each question")
    parser.add_argument("--nlu-examples", type=int, default=60,
                        help="data/nlu examples (seeded draw), rendered once each")
    parser.add_argument("--complete-windows", type=lambda raw: tuple(map(float, raw.split(","))),
                        default=(), metavar="S[,S...]",
                        help="also run the speculative pipeline with each of these ends of "
                             "turn after a complete request (seconds; its own: 0.35)")
    parser.add_argument("--out", type=Path, default=OUT / "voice_heard.json")
    args = parser.parse_args()
    started = time.perf_counter()
    results = measure(args.renders, args.nlu_examples, args.complete_windows)
    results["settings"] = {"cpus": os.cpu_count(), "wall_s": time.perf_counter() - started}
    print()
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
