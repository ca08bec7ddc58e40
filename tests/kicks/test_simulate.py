import collections
import json
import math

import numpy as np
import pytest

from bot.config import PROJECT_ROOT
from bot.kicks import simulate as sim
from bot.kicks.events import clean_events

CALIBRATION = json.loads(
    (PROJECT_ROOT / "data" / "rugby" / "kick_success_calibration.json").read_text()
)


def test_deterministic():
    a, b = sim.simulate(500, seed=3), sim.simulate(500, seed=3)
    assert a.events == b.events
    assert sim.simulate(500, seed=4).events != a.events


def test_fixed_kickers_first_and_names_fictional():
    names = sim.kicker_names(60)
    assert names[:20] == list(sim.FIXED_KICKERS)
    assert len(set(names)) == 60
    assert "Quade Cooper" not in sim.kicker_names(900)  # named in the calibration notes


def test_full_feed_matches_calibration(full_kicks):
    kicks, report = full_kicks  # 67,000 kicks
    assert len(kicks) == 67_000 and sum(report.dropped.values()) == 0
    assert len({k.competition for k in kicks}) == 46
    assert {k.season for k in kicks} == set(range(2007, 2020))
    made = np.array([k.made for k in kicks])
    published = [r["success_rate"] for r in CALIBRATION["overall_rates"] if "success_rate" in r]
    assert min(published) - 0.01 <= made.mean() <= 0.78  # 0.72 .. 0.779 published
    assert abs(made.mean() - 0.75) < 0.01
    assert abs(np.mean([k.p_true for k in kicks]) - 0.75) < 0.002
    distances = np.array([k.distance_m for k in kicks])
    assert 29 <= np.median(distances) <= 34  # "typical kick distance 32-33 m"
    # career rates of established kickers: about 68-83 % (Stats Perform)
    by_kicker = collections.defaultdict(list)
    for k in kicks:
        by_kicker[k.kicker_id].append(k.made)
    rates = [np.mean(v) for v in by_kicker.values() if len(v) >= 150]
    low, high = np.percentile(rates, [5, 95])
    assert 0.64 <= low <= 0.71 and 0.80 <= high <= 0.86
    # the RWC 2019 fit: close central kicks almost always go over, halfway rarely
    x = np.array([k.x_m for k in kicks])
    central = np.array([abs(k.y_m - 35) < 5 for k in kicks])
    assert made[(x < 22) & central].mean() > 0.93
    assert made[x >= 50].mean() < 0.5


def test_oracle_is_calibrated():
    kicks, _ = clean_events(sim.simulate(20_000, seed=11).events)
    p = np.array([k.p_true for k in kicks])
    y = np.array([k.made for k in kicks])
    for low in (0.3, 0.5, 0.7, 0.9):
        mask = (p >= low) & (p < low + 0.1)
        assert abs(y[mask].mean() - p[mask].mean()) < 0.04


def _mean_true_p(s: sim.Simulation, x: float, lateral: float) -> float:
    """Average over the simulated kickers (home and away) of the true probability of a
    kick ``x`` m out and ``lateral`` m off centre, with no pressure."""
    d, a = math.hypot(x, lateral), math.degrees(math.atan2(lateral, x))
    logits = [
        s.offset + sim.true_logit(d, a, k, home, 20, 30)
        for k in s.kickers
        for home in (True, False)
    ]
    return float(np.mean(1 / (1 + np.exp(-np.array(logits)))))


def test_average_kicker_follows_the_rwc2019_interaction_fit():
    s = sim.simulate(2000, seed=1)
    fit = CALIBRATION["logistic_models"][0]
    column = fit["example_columns"].index("interaction")
    for spot, published in fit["example_predictions"].items():
        x, lateral = (float(v.split("=")[1]) for v in spot.strip("()").split(","))
        assert _mean_true_p(s, x, lateral) == pytest.approx(published[column], abs=0.04), spot


def _kicker(skill: float = 0.0, range_m: float = sim.RANGE_MEAN_M) -> sim.Kicker:
    return sim.Kicker("K0001", "Rhys Talbot", "Ashby Harriers", 0, skill, range_m, 2007, 2019)


def test_truth_is_not_additive():
    k = _kicker()
    # distance x angle: 20 degrees cost more close in than far out (RWC 2019 interaction)
    close = sim.true_logit(15, 0, k, True, 20, 30) - sim.true_logit(15, 20, k, True, 20, 30)
    far = sim.true_logit(45, 0, k, True, 20, 30) - sim.true_logit(45, 20, k, True, 20, 30)
    assert close > far + 0.5
    # kicker x distance: a short-range kicker equals a long-range one close in, not far out
    short, long = _kicker(range_m=34.0), _kicker(range_m=46.0)
    assert sim.true_logit(15, 0, short, True, 20, 30) == pytest.approx(
        sim.true_logit(15, 0, long, True, 20, 30), abs=0.01
    )
    gap = sim.true_logit(50, 0, long, True, 20, 30) - sim.true_logit(50, 0, short, True, 20, 30)
    assert gap == pytest.approx(sim.RANGE_SLOPE * 12.0)
    # pressure: a close score late costs; a close score early or a late blow-out does not
    calm = sim.true_logit(30, 10, k, True, 20, 30)
    assert sim.true_logit(30, 10, k, True, -3, 30) == calm
    assert sim.true_logit(30, 10, k, True, 20, 75) == calm
    assert sim.true_logit(30, 10, k, True, -3, 75) == pytest.approx(calm + sim.PRESSURE_LOGIT)


def test_range_term_averages_to_zero_over_kickers():
    ranges = np.random.default_rng(0).normal(sim.RANGE_MEAN_M, sim.RANGE_SD_M, 20_000)
    for d in (20.0, 40.0, 55.0):
        assert abs(np.mean([sim.range_logit(d, r) for r in ranges])) < 0.02
