"""Round-trip latency of one conversation turn over REST, Touchline vs Rasa's defaults.

One turn = POST to ``/webhooks/rest/webhook`` → NLU → policies → custom action on the
action server → shop database → reply.  Two stacks are measured in the same run on the
same machine:

* ``touchline``: ``config.yml`` (sentence-embedding featurizer, fast linear intent
  classifier, rule policies), windowed SQL tracker store and asyncio lock store
  (``bot/dialogue``);
* ``baseline``: the same data, domain and actions trained with Rasa 3.6's default config
  (``rasa/engine/recipes/config_files/default_config.yml``: DIET, TED, UnexpecTED, 100
  epochs each; ``--quick`` uses 20) and Rasa's default in-memory tracker and lock stores.

Touchline runs with ``--workers`` Rasa server processes (Sanic workers, default 2 as in
``make run``; they share the tracker database and exclude each other per conversation),
the baseline with one (Rasa refuses more with its in-memory lock store).

Scenarios: one conversation of 210 turns (latency at turns 5-15 vs 195-205), then 8 and
32 concurrent conversations of 15 turns each.  Peak resident memory of the Rasa server and
the action server is sampled with psutil.  Prints a table and writes
``bench/out/turn_latency.json``.  Usage: ``python -m bench.turn_latency [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import numpy as np
import psutil
import yaml

from bot.config import PROJECT_ROOT
from bot.runtime.endpoints import endpoints_config
from testing.stack import Stack, stack_env, train_model

OUT = PROJECT_ROOT / "bench" / "out"
SCRIPT = [
    "where is my order TL-10001",
    "hello",
    "thanks!",
    "am I talking to a bot?",
    "can you check order TL-10003",
]
"""Turns cycled through by every conversation (NLU + rules + action + database)."""


def baseline_config(workdir: Path, quick: bool) -> Path:
    """Rasa 3.6's default config file (epochs lowered to 20 in quick mode)."""
    from rasa.engine.recipes import default_recipe

    src = Path(default_recipe.__file__).parent / "config_files" / "default_config.yml"
    config = yaml.safe_load(src.read_text())
    config["assistant_id"] = "baseline"
    if quick:
        for part in ("pipeline", "policies"):
            for component in config[part]:
                if "epochs" in component:
                    component["epochs"] = 20
    path = workdir / "baseline_config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class PeakRss(threading.Thread):
    """Samples the resident memory (bytes) of process trees every 0.2 s; keeps the peak."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak = pids, dict.fromkeys(pids, 0)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            for name, pid in self.pids.items():
                try:
                    root = psutil.Process(pid)
                    rss = sum(p.memory_info().rss for p in [root, *root.children(True)])
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak[name], rss)


async def conversation(
    session: aiohttp.ClientSession, url: str, sender: str, turns: int
) -> list[float]:
    """Run ``turns`` turns of :data:`SCRIPT`; returns each turn's latency in seconds."""
    latencies = []
    for i in range(turns):
        started = time.perf_counter()
        body = {"sender": sender, "message": SCRIPT[i % len(SCRIPT)]}
        async with session.post(url, json=body) as r:
            replies = await r.json()
        latencies.append(time.perf_counter() - started)
        assert r.status == 200 and replies, replies
    return latencies


def _session(connections: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client: aiohttp, whose per-request CPU is a fraction of
    httpx's, so the client on the same 2 cores disturbs the servers less."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def concurrent(url: str, users: int, turns: int, tag: str) -> dict:
    """``users`` conversations at once; latency percentiles (ms) and turns per second."""
    async with _session(users + 4) as session:
        started = time.perf_counter()
        runs = await asyncio.gather(
            *(conversation(session, url, f"{tag}-{users}-{u}", turns) for u in range(users))
        )
        wall = time.perf_counter() - started
    flat = np.array([x for run in runs for x in run]) * 1000
    return {
        "users": users,
        "turns": len(flat),
        "turns_per_s": len(flat) / wall,
        "p50_ms": float(np.percentile(flat, 50)),
        "p95_ms": float(np.percentile(flat, 95)),
        "p99_ms": float(np.percentile(flat, 99)),
    }


async def long_conversation(url: str, tag: str, turns: int) -> dict:
    """One conversation of ``turns`` turns; percentiles and turn-10 vs turn-200 latency."""
    async with _session(2) as session:
        await conversation(session, url, f"{tag}-warmup", 5)
        lat = np.array(await conversation(session, url, f"{tag}-long", turns)) * 1000
    early, late = statistics.median(lat[5:16]), statistics.median(lat[195:206])
    return {
        "turns": turns,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "turn10_ms": early,
        "turn200_ms": late,
        "growth": late / early,
    }


def measure(
    name: str,
    model: Path,
    endpoints: dict | None,
    work: Path,
    args: argparse.Namespace,
    workers: int = 1,
) -> dict:
    """Start a stack for ``model`` with ``workers`` Rasa processes; run every scenario."""
    work.mkdir(parents=True, exist_ok=True)
    env = stack_env(work, TOUCHLINE_ACTION_TIMEOUT_S="8", SANIC_WORKERS=str(workers))
    stack = Stack(work, model, env)
    if endpoints is not None:
        endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{stack.action_port}/webhook"
        stack.endpoints = work / "endpoints.yml"
        stack.endpoints.write_text(yaml.safe_dump(endpoints))
    stack.start()
    rss = PeakRss({k: p.pid for k, p in stack.procs.items()})
    rss.start()
    url = f"{stack.url}/webhooks/rest/webhook"
    try:
        # Warm-up, not measured: every worker meets the scripted texts once (embedding
        # cache, first-call costs), as a server in service has.
        asyncio.run(concurrent(url, 8, 2 * len(SCRIPT), f"{name}-warm-up"))
        result = {"single": asyncio.run(long_conversation(url, name, args.long_turns))}
        for users in (1, 8, 32):
            result[f"c{users}"] = asyncio.run(concurrent(url, users, args.turns, name))
    finally:
        rss.stopped.set()
        stack.close()
    result["peak_rss_mb"] = {k: v / 2**20 for k, v in rss.peak.items()}
    return result


def table(results: dict) -> str:
    """Human-readable comparison table."""
    rows = [f"{'scenario':<34}{'touchline':>14}{'baseline':>14}"]

    def row(label: str, key: tuple[str, str], fmt: str = "{:.1f}") -> None:
        vals = [fmt.format(results[n][key[0]][key[1]]) for n in ("touchline", "baseline")]
        rows.append(f"{label:<34}{vals[0]:>14}{vals[1]:>14}")

    row("1 conversation p50 (ms)", ("single", "p50_ms"))
    row("1 conversation p95 (ms)", ("single", "p95_ms"))
    row("1 conversation p99 (ms)", ("single", "p99_ms"))
    row("turn 10 median (ms)", ("single", "turn10_ms"))
    row("turn 200 median (ms)", ("single", "turn200_ms"))
    row("growth turn 200 / turn 10", ("single", "growth"), "{:.2f}")
    for users in (1, 8, 32):
        row(f"{users} concurrent: turns/s", (f"c{users}", "turns_per_s"))
        row(f"{users} concurrent: p50 (ms)", (f"c{users}", "p50_ms"))
        row(f"{users} concurrent: p99 (ms)", (f"c{users}", "p99_ms"))
    for proc in ("rasa", "actions"):
        row(f"peak RSS {proc} (MB)", ("peak_rss_mb", proc), "{:.0f}")
    speedup = results["touchline"]["c32"]["turns_per_s"] / results["baseline"]["c32"]["turns_per_s"]
    rows.append(f"{'32 concurrent throughput ratio':<34}{speedup:>14.1f}x")
    return "\n".join(rows)


def main() -> None:
    """Train both models, measure both stacks, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="baseline with 20 epochs")
    parser.add_argument("--turns", type=int, default=15, help="turns per concurrent user")
    parser.add_argument("--long-turns", type=int, default=210)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Touchline's Rasa server processes (SANIC_WORKERS; `make run` uses 2); the "
        "baseline keeps Rasa's in-memory lock store, which allows only 1",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = {
            "touchline": train_model(work / "models", name="touchline"),
            "baseline": train_model(
                work / "models", baseline_config(work, args.quick), name="baseline"
            ),
        }
        touchline_endpoints = endpoints_config("", str(work / "tl" / "tracker.db"))
        baseline_endpoints = {"action_endpoint": {"url": ""}}  # Rasa's in-memory defaults
        results = {
            "touchline": measure(
                "touchline",
                models["touchline"],
                touchline_endpoints,
                work / "tl",
                args,
                args.workers,
            ),
            "baseline": measure(
                "baseline", models["baseline"], baseline_endpoints, work / "base", args
            ),
        }
    results["settings"] = {
        "quick": args.quick,
        "turns": args.turns,
        "long_turns": args.long_turns,
        "touchline_workers": args.workers,
        "cpus": os.cpu_count(),
    }
    print(table(results))
    (OUT / "turn_latency.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {OUT / 'turn_latency.json'}")


if __name__ == "__main__":
    main()
