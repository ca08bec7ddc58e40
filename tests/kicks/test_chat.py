import pytest

from bot.kicks.chat import SlotError, kick_reply, parse_metres, spot_from_slots
from bot.kicks.wording import ASK_POSITION


def test_parse_metres():
    assert parse_metres("40", "d") == 40.0
    assert parse_metres("40 metres", "d") == parse_metres("40m", "d") == parse_metres(40, "d")
    assert parse_metres(None, "d") is None
    # spans the entity extractor returns for "40m out", "5 metres in from touch"
    assert parse_metres("40m out", "d") == parse_metres("5 metres in", "d") + 35
    for bad in ("forty-ish", "NaN", "inf", True, "-5", "out", "40m outside"):
        with pytest.raises(SlotError):
            parse_metres(bad, "d")


def test_spots():
    s = spot_from_slots("40", "15", None)
    assert (s.x_m, s.y_m, s.assumed_in_front) == (40.0, 15.0, False)
    s = spot_from_slots(None, None, ["22", "in_front"])
    assert (s.x_m, s.y_m, s.assumed_in_front) == (22.0, 35.0, False)
    assert spot_from_slots(None, None, "halfway").x_m == 50.0
    assert spot_from_slots(None, None, "10m").x_m == 40.0
    assert spot_from_slots("22", None, "in_front").x_m == 22.0
    assert spot_from_slots(30, None, None).assumed_in_front
    assert spot_from_slots(None, None, "in_front") is None
    assert spot_from_slots(None, "15", None) is None
    with pytest.raises(SlotError):
        spot_from_slots("300", None, None)
    with pytest.raises(SlotError):
        spot_from_slots("30", "90", None)
    with pytest.raises(SlotError):
        spot_from_slots(None, None, "corner flag")


def test_reply_known_kicker(predictor):
    text = kick_reply("Rhys Talbot", "40", "15", None, lambda: predictor)
    assert text.startswith("Rhys Talbot's chance from 40 m out, 15 m in from touch")
    assert "%" in text and "average kicker from there" in text and "simulated" in text


def test_reply_unknown_kicker_and_assumed_front(predictor):
    text = kick_reply("Jonny Nobody", None, None, "22", lambda: predictor)
    assert 'don\'t know a kicker called "Jonny Nobody"' in text
    assert "the 22" in text and "assumed the kick is in front" in text and "simulated" in text


def test_reply_asks_for_position_without_loading_model():
    def boom():
        raise AssertionError("model must not load")

    assert kick_reply("Rhys Talbot", None, None, None, boom) == ASK_POSITION
    polite = kick_reply("Rhys Talbot", "lots", None, None, boom)
    assert polite.startswith('Sorry, I couldn\'t read "lots"') and ASK_POSITION in polite
