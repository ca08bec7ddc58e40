import json

from bot.kicks.events import clean_events, read_events, write_events


def _kick(i, **over):
    event = {
        "event_id": f"E{i}",
        "event_type": "place_kick",
        "match_id": "M1",
        "competition": "Northern Cup",
        "season": 2015,
        "date": "2015-01-03",
        "period": 1,
        "clock_s": 100 + i,
        "team": "Ashby Harriers",
        "home": True,
        "score_for": 0,
        "score_against": 3,
        "kicker_id": "K0001",
        "kicker_name": "Rhys Talbot",
        "kick_type": "penalty",
        "x_m": 30.0,
        "y_m": 20.0,
        "outcome": "made",
    }
    event.update(over)
    return event


def test_cleaning_drops_exactly_the_planted_anomalies(small_sim):
    clean = small_sim.events[:400]
    planted = {
        "off_pitch": [_kick(1, x_m=-50.0), _kick(2, y_m=500.0), _kick(3, x_m=float("nan"))],
        "impossible_distance": [_kick(4, x_m=2.0), _kick(5, x_m=95.0)],
        "missing_outcome": [
            _kick(6, outcome=None),
            {k: v for k, v in _kick(7).items() if k != "outcome"},
        ],
        "malformed": [_kick(8, x_m="thirty"), _kick(9, kick_type="drop_goal"), "not an object"],
        "duplicate": [
            dict(clean[1]),
            _kick(
                10,
                event_id="X",
                **{k: clean[1][k] for k in ("match_id", "clock_s", "kicker_id", "kick_type")},
            ),
        ],
    }
    if clean[1]["event_type"] != "place_kick":
        planted["duplicate"] = [dict(clean[2]), dict(clean[3])]
    planted_events = [e for group in planted.values() for e in group]
    kicks, report = clean_events(clean + planted_events)
    clean_kicks, clean_report = clean_events(clean)
    assert sum(clean_report.dropped.values()) == 0
    assert {r: report.dropped[r] for r in planted} == {r: len(v) for r, v in planted.items()}
    assert [k.event_id for k in kicks] == [k.event_id for k in clean_kicks]
    assert report.not_kicks == clean_report.not_kicks > 0  # tries are ignored, not dropped
    assert "off_pitch: 3" in report.summary()


def test_kicks_sorted_chronologically(small_kicks):
    keys = [k.order_key for k in small_kicks]
    assert keys == sorted(keys)


def test_read_json_lines_and_array(tmp_path, small_sim):
    events = small_sim.events[:50]
    lines = write_events(events, tmp_path / "feed.jsonl")
    array = tmp_path / "feed.json"
    array.write_text(json.dumps(events))
    assert read_events(lines) == read_events(array) == events


def test_kick_round_trips_to_schema_event(small_kicks):
    kick = small_kicks[0]
    again, _ = clean_events([kick.to_event()])
    assert again == [kick]
