"""Call transfer to the agent number against a fake Twilio REST API on 127.0.0.1."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.config import Settings
from bot.support.call_transfer import Transfer, TransferFailed
from testing.fake_twilio import ACCOUNT_SID, FakeTwilio
from testing.stack import free_port

TOKEN = "twilio-token-for-transfer-tests"
AGENT = "+441632960961"


@pytest.fixture
def twilio():
    fake = FakeTwilio(TOKEN).start()
    yield fake
    fake.close()


def config(**env: str) -> Settings:
    return Settings.from_env(env)


def test_a_transfer_needs_the_number_the_account_and_the_token(twilio):
    full = {"TOUCHLINE_AGENT_PHONE": AGENT, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_API_BASE_URL": twilio.base_url + "/"}
    transfer = Transfer.configured(config(**full))
    assert transfer == Transfer(AGENT, ACCOUNT_SID, TOKEN, twilio.base_url)
    for missing in ("TOUCHLINE_AGENT_PHONE", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        assert Transfer.configured(config(**{**full, missing: ""})) is None
    assert config().twilio_api_url == "https://api.twilio.com"


@pytest.mark.parametrize("number", ["441632960961", "+44 1632 960961", "+0441632960",
                                    "+12345", "+1234567890123456", "tel:+441632960961"])
def test_the_agent_number_must_be_e164(number):
    with pytest.raises(ValueError, match=r"TOUCHLINE_AGENT_PHONE is not valid.*E\.164"):
        config(TOUCHLINE_AGENT_PHONE=number)
    assert config(TOUCHLINE_AGENT_PHONE=f" {AGENT} ").agent_phone == AGENT


def test_the_call_is_redirected_to_say_then_dial_the_agent(twilio):
    say = "Putting you through <now> & hold."
    Transfer(AGENT, ACCOUNT_SID, TOKEN, twilio.base_url).redirect("CAlive", say)
    [update] = twilio.updates
    assert (update.account_sid, update.call_sid, update.authorised) == (ACCOUNT_SID, "CAlive",
                                                                        True)
    response = ET.fromstring(update.form["Twiml"])
    assert [(e.tag, e.text) for e in response] == [("Say", say), ("Dial", AGENT)]


def test_a_wrong_token_an_ended_call_or_no_server_fail_clearly(twilio):
    with pytest.raises(TransferFailed, match="401"):
        Transfer(AGENT, ACCOUNT_SID, "wrong", twilio.base_url).redirect("CAx", "Hold.")
    assert [u.authorised for u in twilio.updates] == [False]
    twilio.ended.add("CAgone")
    with pytest.raises(TransferFailed, match="404"):
        Transfer(AGENT, ACCOUNT_SID, TOKEN, twilio.base_url).redirect("CAgone", "Hold.")
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TransferFailed, match="unreachable"):
        Transfer(AGENT, ACCOUNT_SID, TOKEN, nobody).redirect("CAx", "Hold.")
