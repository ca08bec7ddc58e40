"""Human handoff: a ticket with the conversation summary, then silence until it is closed;
after a close in the agent inbox, the customer's 1-5 rating is stored with the ticket."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, customer_id_for
from bot.config import settings
from bot.dialogue.turn import ConversationId, Namespace
from bot.store.agents import online_agents
from bot.store.inbox import awaiting_rating, rate, set_contact_email
from bot.store.tickets import open_ticket, takeover_ticket
from bot.support.call_transfer import Transfer, TransferFailed
from bot.support.opening_hours import team_next_available
from bot.support.rating import parse_rating
from bot.support.summary import conversation_summary
from bot.support.wording import (
    BACK_FROM_HUMAN,
    RATING_SKIPPED,
    RATING_THANKS,
    contact_email_noted,
    handoff_offline_reply,
    handoff_reply,
    phone_handoff_reply,
    phone_transfer_reply,
)

logger = logging.getLogger(__name__)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
"""An e-mail address in a message (a customer waiting for a person leaves one)."""


class ActionHandoff(ShopAction):
    """Open (or reuse) a takeover ticket and tell the customer its number; when no agent
    is online, also when the team is next available and to leave an e-mail address; on a
    phone call, the call is put through to ``$TOUCHLINE_AGENT_PHONE`` while an agent is
    online, else a person will call back (the inbox shows the caller's number)."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_handoff"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring."""
        cid = customer_id_for(session, tracker)
        opened = open_ticket(session, tracker.sender_id, cid, "handoff",
                             conversation_summary(tracker.events), takeover=True)
        conversation = ConversationId.parse(tracker.sender_id)
        if conversation.namespace is Namespace.PHONE_CALL:
            text = self._phone(session, conversation.key, opened.ticket.id, opened.created)
        elif online_agents(session) or opened.ticket.agent_id is not None:
            text = handoff_reply(opened.ticket.id, opened.created)
        else:  # nobody to answer now: say when, and ask where to reply
            config = settings()
            text = handoff_offline_reply(opened.ticket.id, opened.created, team_next_available(
                config.opening_hours, config.timezone, datetime.now(timezone.utc)))
        dispatcher.utter_message(text=text)
        return [SlotSet("human_takeover", True), SlotSet("ticket_id", opened.ticket.id)]

    @staticmethod
    def _phone(session: Session, call_sid: str, ticket_id: int, created: bool) -> str:
        """On a phone call: transfer it to the agent number (:class:`Transfer`) when one is
        configured and an agent is online, else (or when Twilio refuses) a call-back."""
        transfer = Transfer.configured(settings())
        if transfer is not None and online_agents(session):
            text = phone_transfer_reply(ticket_id, created)
            try:
                transfer.redirect(call_sid, text)
                logger.info("call %s transferred to the agent number", call_sid)
                return text
            except TransferFailed as exc:
                logger.error("call %s not transferred: %s", call_sid, exc)
        return phone_handoff_reply(ticket_id, created)


class ActionTakeoverCheck(ShopAction):
    """Stay silent while the takeover ticket is open; come back once an agent closed it.

    While nobody has claimed the ticket, an e-mail address the customer writes is kept with
    it (where to reply) and acknowledged.

    A close in the agent inbox has already told the customer the bot is back and asked for
    a rating: the first message after it is taken as the rating when it is one
    (:func:`bot.support.rating.parse_rating`), and thanked for; otherwise the assistant asks
    what it can help with."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_takeover_check"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring."""
        held = takeover_ticket(session, tracker.sender_id)
        if held is not None:
            email = EMAIL.search(tracker.latest_message.get("text") or "")
            if held.agent_id is None and held.contact_email is None and email is not None:
                set_contact_email(session, tracker.sender_id, email.group(0))
                dispatcher.utter_message(text=contact_email_noted(email.group(0)))
            return [SlotSet("human_takeover", True)]
        rated = awaiting_rating(session, tracker.sender_id)
        if rated is None:  # closed over /tickets: the bot says it is back now
            dispatcher.utter_message(text=BACK_FROM_HUMAN)
        else:  # closed in the inbox, which said so and asked for a rating
            answer = parse_rating(tracker.latest_message.get("text") or "")
            if answer is not None:
                rate(session, rated.id, *answer)
            dispatcher.utter_message(text=RATING_THANKS if answer else RATING_SKIPPED)
        return [SlotSet("human_takeover", False), SlotSet("ticket_id", None)]
