"""How Whisper's workers and threads share the CPUs: transcription times of phone questions
one at a time, 2 at once and 4 at once, for each (workers, threads) setting.

``python -m bench.asr_workers [--questions N] [--out FILE]``: 16 benchmark questions
(``bench/data/voice_questions.txt``) rendered by Piper joe, sent through 8 kHz µ-law as a
phone line carries them, transcribed by :class:`~bot.speech.asr.WhisperRecognizer` on its
default window.  Each setting loads its own model; "at once" runs the questions from that
many threads, so a transcription's time includes its wait for a worker.  The baseline is
the setting of stop 30 (2 workers of 1 thread on 2 cores), in the same run; the default
adds a copy of the model with 2 threads for a transcription that starts alone.  Prints a
table (p50 / p95 ms; wall seconds of the 2-at-once round) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tabulate import tabulate

from bench.voice import RATES, at_rate, load_questions, spread, synthesise, trim
from bot.config import ASR_WINDOW_S
from bot.speech.asr import WhisperRecognizer
from bot.speech.audio import Audio
from bot.speech.tts import PiperSynthesizer

SETTINGS = ((2, 1, None), (1, 2, None), (2, 1, 2))
"""(workers, threads per worker, solo threads) compared; the first is the baseline (the
setting before the solo copy), the last the default on 2 cores."""
AT_ONCE = (1, 2, 4)
OUT = Path(__file__).parent / "out" / "asr_workers.json"


def phone_questions(n: int) -> list[Audio]:
    """``n`` benchmark questions spoken by Piper joe, through 8 kHz µ-law."""
    piper = PiperSynthesizer()
    return [at_rate(trim(synthesise(piper, q)[0]), RATES[1])
            for _, q in spread(load_questions(), n)]


def timed(recognizer: WhisperRecognizer, audio: Audio) -> float:
    """Milliseconds one transcription of ``audio`` took, its wait for a worker included."""
    start = time.perf_counter()
    recognizer.transcribe(audio)
    return 1000 * (time.perf_counter() - start)


def measure(workers: int, threads: int, solo: int | None, audios: list[Audio]) -> dict:
    """p50 / p95 ms of each :data:`AT_ONCE` round (every question once per thread
    sending), and the wall seconds of each round."""
    recognizer = WhisperRecognizer(workers=workers, threads=threads, window_s=ASR_WINDOW_S,
                                   solo_threads=solo)
    timed(recognizer, audios[0])  # load and warm up
    rounds = {}
    for n in AT_ONCE:
        started = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            times = list(pool.map(lambda a: timed(recognizer, a), audios * n))
        rounds[str(n)] = {"p50": float(np.percentile(times, 50)),
                          "p95": float(np.percentile(times, 95)),
                          "wall_s": time.perf_counter() - started}
    return {"workers": workers, "threads": threads, "solo_threads": solo, "at_once": rounds}


def main() -> None:
    """Measure every setting of :data:`SETTINGS`, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    audios = phone_questions(args.questions)
    results = [measure(w, t, solo, audios) for w, t, solo in SETTINGS]
    rows = [[f"{r['workers']} x {r['threads']}"
             + (f", alone {r['solo_threads']}" if r["solo_threads"] else "")
             + (" (baseline)" if i == 0 else ""),
             *(f"{r['at_once'][str(n)]['p50']:.0f} / {r['at_once'][str(n)]['p95']:.0f}"
               for n in AT_ONCE), f"{r['at_once']['4']['wall_s']:.2f}"]
            for i, r in enumerate(results)]
    print(tabulate(rows, headers=["workers x threads", *(f"{n} at once" for n in AT_ONCE),
                                  "4 at once wall s"], tablefmt="github"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpus": os.cpu_count(), "window_s": ASR_WINDOW_S,
                                    "questions": args.questions, "results": results},
                                   indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
