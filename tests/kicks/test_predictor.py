import numpy as np
import pytest

from bot.kicks.predictor import ModelOutputError, PositionError


def test_known_kicker(predictor):
    p = predictor.predict(x_m=40, y_m=55, kicker="rhys talbot", competition="Northern Cup")
    assert p.kicker_name == "Rhys Talbot" and p.kicker_id == "K0001"
    assert 0 < p.probability < 1 and 0 < p.average_probability < 1
    assert p.career_kicks > 0 and 0 < p.career_rate < 1
    assert p.distance_m == pytest.approx(44.72, abs=0.01) and p.simulated
    assert p.model_version == predictor.version and "unknown_kicker" not in p.fallbacks


def test_unknown_kicker_falls_back_to_average_and_says_so(predictor):
    p = predictor.predict(distance_m=30, angle_deg=20, kicker="Nobody Atall")
    assert p.fallbacks == ["unknown_kicker", "no_competition"]
    assert p.probability == p.average_probability and p.career_rate is None
    by_id = predictor.predict(distance_m=30, angle_deg=20, kicker="K0002")
    assert by_id.kicker_name == "Callum Ferreira"


def test_probability_falls_with_distance_and_angle(predictor):
    near = predictor.predict(x_m=10, y_m=35).probability
    far = predictor.predict(x_m=50, y_m=35).probability
    wide = predictor.predict(x_m=10, y_m=68).probability
    assert near > far and near > wide
    assert predictor.predict(x_m=30, y_m=10).probability == pytest.approx(
        predictor.predict(x_m=30, y_m=60).probability
    )  # mirrored


def test_bad_positions(predictor):
    for kwargs in (
        {"x_m": -50, "y_m": 35},
        {"x_m": 30, "y_m": 500},
        {"x_m": 30},
        {"x_m": float("nan"), "y_m": 30},
        {"distance_m": 60, "angle_deg": 80},
    ):
        with pytest.raises(PositionError):
            predictor.predict(**kwargs)


def test_nan_model_output_raises(nan_predictor):
    with pytest.raises(ModelOutputError):
        nan_predictor.predict(x_m=30, y_m=35)


def test_latency_in_memory(predictor):
    import time

    times = []
    for i in range(300):
        start = time.perf_counter()
        predictor.predict(x_m=10 + i % 40, y_m=20, kicker="Seb Varga", competition="Northern Cup")
        times.append(time.perf_counter() - start)
    assert np.percentile(times, 50) < 0.01  # loose here; bench/kicks.py measures properly
