import collections
import json
from pathlib import Path

import numpy as np

from bot.kicks import simulate as sim
from bot.kicks.events import clean_events

CALIBRATION = json.loads(
    (
        Path(__file__).resolve().parents[3] / "shared/data/rugby/kick_success_calibration.json"
    ).read_text()
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


def test_full_feed_matches_calibration():
    s = sim.simulate()  # 67,000 kicks
    kicks, report = clean_events(s.events)
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
