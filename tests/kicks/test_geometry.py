import math

import pytest

from bot.kicks import geometry as g


def test_distance_and_angle_hand_computed():
    # 22 m out, in front: 22 m, 0 degrees
    assert g.distance_to_posts(22, 35) == pytest.approx(22.0)
    assert g.angle_to_posts(22, 35) == pytest.approx(0.0)
    # 40 m out, 15 m in from the right touchline (y = 55): lateral 20 m
    assert g.distance_to_posts(40, 55) == pytest.approx(math.sqrt(40**2 + 20**2))  # 44.72
    assert g.angle_to_posts(40, 55) == pytest.approx(26.565, abs=1e-3)  # atan(0.5)
    # 30 m out, 5 m from the left touchline: lateral 30 m -> 45 degrees, 42.43 m
    assert g.distance_to_posts(30, 5) == pytest.approx(42.426, abs=1e-3)
    assert g.angle_to_posts(30, 5) == pytest.approx(45.0)
    # on the try line, off centre: 90 degrees
    assert g.angle_to_posts(0, 60) == pytest.approx(90.0)


def test_mirror_treats_left_and_right_alike():
    assert g.mirror_y(20) == g.mirror_y(50) == 50
    assert g.distance_to_posts(30, 20) == g.distance_to_posts(30, 50)
    assert g.angle_to_posts(30, 20) == g.angle_to_posts(30, 50)


def test_from_polar_round_trip():
    x, y = g.from_polar(44.72136, 26.56505)
    assert (x, y) == (pytest.approx(40.0, abs=1e-4), pytest.approx(55.0, abs=1e-4))


def test_posts_and_pitch_constants():
    assert g.CENTRE_Y_M == 35 and g.POST_GAP_M == 5.6
    assert g.is_on_pitch(100, 70) and g.is_on_pitch(0, 0)
    assert not g.is_on_pitch(-50, 35) and not g.is_on_pitch(30, 500)


def test_conversion_on_line_through_try():
    assert g.conversion_spot(62.0, 25.0) == (25.0, 62.0)
    with pytest.raises(ValueError):
        g.conversion_spot(80.0, 10.0)


def test_zones():
    assert g.field_zone(10, 0) == "0-22m/central"
    assert g.field_zone(22, 15) == "22-35m/mid"
    assert g.field_zone(50, 60) == "45m+/wide"
    assert len(set(g.ZONES)) == 12


def test_rwc2019_interaction_fit_matches_published_examples():
    # kick_success_calibration.json example_predictions, "interaction" column
    for (x, lat), expected in {
        (22, 0): 0.99,
        (22, 15): 0.84,
        (40, 0): 0.76,
        (40, 20): 0.54,
        (50, 0): 0.37,
        (50, 25): 0.26,
        (15, 30): 0.51,
    }.items():
        d, a = math.hypot(x, lat), math.degrees(math.atan2(lat, x))
        p = 1 / (1 + math.exp(-g.rwc2019_interaction_logit(d, a)))
        assert p == pytest.approx(expected, abs=0.011)
