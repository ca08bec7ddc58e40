"""Benchmark of the kick predictor (simulated data).

Trains on the simulated feed (default: 67,000 kicks, 30 Optuna trials on 5-fold CV to stay
near 10 minutes on 2 shared cores; ``--folds 10`` for the issue's 10-fold search),
scores XGBoost and the logistic-regression and random-forest baselines on the held-out
seasons against the oracle (the simulator's true probabilities), prints a calibration
table, measures one prediction in process (kicker lookup included) and over HTTP with 16
concurrent clients against a real uvicorn on 127.0.0.1, and writes everything to
``bench/out/kicks.json``.

Usage: ``python -m bench.kicks [--quick] [--folds N] [--trials N] [--n-kicks N]
[--n-jobs 2]``. ``--quick``: 20,000 kicks, 5 folds, 5 trials (targets indicative only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
from fastapi import FastAPI

from bot.api.routes import kicks as kicks_routes
from bot.kicks.metrics import calibration_table
from bot.kicks.predictor import KickPredictor
from bot.kicks.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {"auc_gap": 0.01, "brier_gap": 0.005, "p99_in_process_ms": 2.0, "p99_http_ms": 15.0}


def kicks_only_app() -> FastAPI:
    """The kicks router alone: served when the full API app cannot start."""
    app = FastAPI()
    app.include_router(kicks_routes.router)
    return app


def _queries(predictor: KickPredictor, n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    names = list(predictor.kickers.values()) + ["Unknown Kicker"]
    return [
        {
            "x_m": float(rng.uniform(5, 60)),
            "y_m": float(rng.uniform(5, 65)),
            "kicker": names[int(rng.integers(len(names)))],
            "competition": "Northern Cup",
            "kick_type": "penalty" if rng.random() < 0.55 else "conversion",
            "period": int(rng.integers(1, 3)),
            "home": bool(rng.random() < 0.5),
            "score_diff": int(rng.integers(-15, 16)),
        }
        for _ in range(n)
    ]


def in_process_latency(predictor: KickPredictor, n: int) -> dict[str, float]:
    """p50/p99 (ms) of :meth:`KickPredictor.predict` on random queries."""
    queries = _queries(predictor, n + 200)
    for q in queries[:200]:
        predictor.predict(**q)
    times = []
    for q in queries[200:]:
        start = time.perf_counter()
        predictor.predict(**q)
        times.append((time.perf_counter() - start) * 1e3)
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "n": n,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ws",
        "none",
        "--log-level",
        "warning",
        "--app-dir",
        str(ROOT),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            break
        try:
            if (
                httpx.post(
                    f"{url}/kicks/predict", json={"x_m": 30, "y_m": 35}, timeout=120
                ).status_code
                == 200
            ):
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"uvicorn {app} did not serve /kicks/predict")


async def _http_run(url: str, queries: list[dict], clients: int) -> list[float]:
    """Latencies (ms) of ``queries`` posted by ``clients`` concurrent keep-alive clients.

    The client is aiohttp: httpx's async client spends more CPU per request than the
    server does, so on this 2-core machine it, not the server, set the measured latency
    (p99 about 200 ms against about 8 ms with aiohttp, same server, same run).
    """
    times: list[float] = []
    pending = list(queries)

    async def worker(session: aiohttp.ClientSession) -> None:
        while pending:
            q = pending.pop()
            start = time.perf_counter()
            async with session.post(f"{url}/kicks/predict", json=q) as r:
                await r.read()
                r.raise_for_status()
            times.append((time.perf_counter() - start) * 1e3)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    return times


def http_latency(predictor: KickPredictor, env: dict[str, str], n: int, clients: int) -> dict:
    """p50/p99 (ms) of ``POST /kicks/predict`` with ``clients`` concurrent clients."""
    served = "bot.api.app:create_app"
    try:
        proc, url = _start_server(served, env)
    except RuntimeError:
        served = "bench.kicks:kicks_only_app"
        proc, url = _start_server(served, env)
    try:
        asyncio.run(_http_run(url, _queries(predictor, 200, seed=1), clients))  # warm-up
        times = asyncio.run(_http_run(url, _queries(predictor, n, seed=2), clients))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "n": n,
        "clients": clients,
        "app": served,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 (targets missed are reported, not fatal)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-kicks", type=int)
    parser.add_argument("--folds", type=int)
    parser.add_argument("--trials", type=int)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/kicks.json")
    args = parser.parse_args(argv)
    n_kicks, folds, trials = (20_000, 5, 5) if args.quick else (67_000, 5, 30)
    n_kicks, folds, trials = args.n_kicks or n_kicks, args.folds or folds, args.trials or trials
    work = Path(tempfile.mkdtemp(prefix="kicks-bench-"))
    url, models = f"sqlite:///{work / 'shop.db'}", work / "models"
    start = time.perf_counter()
    result = train(
        TrainConfig(
            n_kicks=n_kicks,
            trials=trials,
            folds=folds,
            n_jobs=args.n_jobs,
            database_url=url,
            models_root=models,
        )
    )
    train_wall = time.perf_counter() - start
    meta = result.metadata
    test = meta["metrics"]["test"]
    xgb_p = result.pipelines["xgboost"].predict_proba(result.X_test)[:, 1]
    calibration = calibration_table(result.y_test, xgb_p)
    predictor = KickPredictor.load(database_url=url, models_root=models)
    in_proc = in_process_latency(predictor, 3000 if args.quick else 10_000)
    env = {**os.environ, "DATABASE_URL": url, "TOUCHLINE_KICKS_MODELS": str(models)}
    http = http_latency(predictor, env, 800 if args.quick else 3000, clients=16)
    oracle = test["oracle"]
    checks = {
        "auc": test["xgboost"]["auc"] >= oracle["auc"] - TARGETS["auc_gap"],
        "brier": test["xgboost"]["brier"] <= oracle["brier"] + TARGETS["brier_gap"],
        "p99_in_process": in_proc["p99_ms"] <= TARGETS["p99_in_process_ms"],
        "p99_http": http["p99_ms"] <= TARGETS["p99_http_ms"],
    }
    report = {
        "simulated_data": True,
        "config": {
            "n_kicks": n_kicks,
            "folds": folds,
            "trials": trials,
            "n_jobs": args.n_jobs,
            "quick": args.quick,
            "cpus": os.cpu_count(),
        },
        "held_out": {
            "seasons": meta["metrics"]["test_seasons"],
            "n": meta["n_test"],
            "metrics": test,
        },
        "cv": meta["cv"],
        "best_params": meta["params"],
        "calibration_xgboost": calibration,
        "latency_in_process": in_proc,
        "latency_http": http,
        "training_s": {**meta["timings_s"], "total_wall": train_wall},
        "targets": TARGETS,
        "targets_met": checks,
        "model_version": meta["version"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nKick predictor benchmark (SIMULATED data), {n_kicks} kicks, held-out seasons "
        f"{report['held_out']['seasons']} ({meta['n_test']} kicks)"
    )
    print(f"{'model':<22}{'AUC':>8}{'Brier':>9}{'log loss':>10}")
    for name, m in test.items():
        print(f"{name:<22}{m['auc']:>8.4f}{m['brier']:>9.4f}{m['log_loss']:>10.4f}")
    print("\ncalibration (XGBoost): bin, n, mean predicted, observed")
    for row in calibration:
        print(
            f"  {row['low']:.1f}-{row['high']:.1f} {row['n']:>6} "
            f"{row['mean_predicted']:.3f} {row['observed_rate']:.3f}"
        )
    print(
        f"\nCV AUC {meta['cv']['auc_mean']:.4f} ({folds} folds, {trials} trials, "
        f"{meta['cv']['pruned_trials']} pruned); search {meta['timings_s']['cv_search']:.1f} s, "
        f"training total {train_wall:.1f} s"
    )
    print(f"predict in process: p50 {in_proc['p50_ms']:.3f} ms, p99 {in_proc['p99_ms']:.3f} ms")
    print(
        f"HTTP, 16 clients ({http['app']}): p50 {http['p50_ms']:.2f} ms, "
        f"p99 {http['p99_ms']:.2f} ms"
    )
    print("targets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
