"""Transfer a live phone call to the shop's agent number (``$TOUCHLINE_AGENT_PHONE``).

Twilio's REST API replaces the TwiML of an in-progress call
(https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource):
``POST {base}/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` with the form field
``Twiml``, HTTP basic auth with the account SID and its auth token.  The new TwiML says a
line and dials the agent (``<Say>…</Say><Dial>+number</Dial>``); the call's Media Stream
(``<Connect><Stream>``) ends as Twilio runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx
from twilio.twiml.voice_response import VoiceResponse

from bot.config import Settings

TIMEOUT_S = 10.0
"""How long Twilio's API may take before the transfer counts as failed (seconds)."""


class TransferFailed(RuntimeError):
    """Twilio did not redirect the call (unreachable, refused, or the call is over)."""


@dataclass(frozen=True)
class Transfer:
    """What a transfer needs: the agent number and the Twilio account.

    Attributes:
        number: the agent number, E.164.
        account_sid: Twilio account SID.
        auth_token: its auth token.
        api_url: Twilio's REST API base URL.
    """

    number: str
    account_sid: str
    auth_token: str
    api_url: str

    @classmethod
    def configured(cls, config: Settings) -> Transfer | None:
        """The transfer of ``config``; ``None`` unless ``$TOUCHLINE_AGENT_PHONE``,
        ``$TWILIO_ACCOUNT_SID`` and ``$TWILIO_AUTH_TOKEN`` are all set."""
        token = config.named("TWILIO_AUTH_TOKEN")
        if not (config.agent_phone and config.twilio_account_sid and token):
            return None
        return cls(config.agent_phone, config.twilio_account_sid, token, config.twilio_api_url)

    def twiml(self, say: str) -> str:
        """``<Response><Say>say</Say><Dial>number</Dial></Response>`` (escaped XML)."""
        answer = VoiceResponse()
        answer.say(say)
        answer.dial(self.number)
        return str(answer)

    def redirect(self, call_sid: str, say: str) -> None:
        """Redirect the live call ``call_sid``: say ``say``, then dial :attr:`number`.

        Raises:
            TransferFailed: Twilio unreachable within :data:`TIMEOUT_S`, or not 2xx.
        """
        url = (f"{self.api_url}/2010-04-01/Accounts/{quote(self.account_sid, safe='')}"
               f"/Calls/{quote(call_sid, safe='')}.json")
        try:
            reply = httpx.post(url, data={"Twiml": self.twiml(say)}, timeout=TIMEOUT_S,
                               auth=(self.account_sid, self.auth_token))
        except httpx.HTTPError as exc:
            raise TransferFailed(f"Twilio unreachable: {type(exc).__name__}") from None
        if not reply.is_success:
            raise TransferFailed(f"Twilio answered {reply.status_code}")
