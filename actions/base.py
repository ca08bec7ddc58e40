"""``ShopAction``: the base of every database-backed action.

It runs the action's synchronous body in a worker thread with its own database session and
dispatcher, under a time budget (``$TOUCHLINE_ACTION_TIMEOUT_S``, default 8 seconds):

* body succeeds → its messages are sent and its events returned;
* body raises → the user gets an apology, no event is returned (no half-set slots), and the
  error is logged;
* body is too slow (replay R12: a slow shop database) → the user hears that we are still
  checking and may try again or ask for a person; the late result is discarded, never sent.

When the action server itself is unreachable, Rasa drops the action's events and sends
nothing; the channels then apologise (:func:`bot.dialogue.turn.run_turn`).
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from typing import ClassVar, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from bot.config import settings
from bot.dialogue.followups import TOPIC_SLOT, FollowUp, follow_up
from bot.dialogue.rehearsal import READ_ONLY_ACTIONS, is_rehearsal
from bot.identity.metadata import verified_customer
from bot.store.db import session_scope
from bot.store.models import Customer
from bot.support.wording import APOLOGY, STILL_CHECKING

logger = logging.getLogger(__name__)


def action_timeout_s() -> float:
    """Time budget of one action in seconds (``$TOUCHLINE_ACTION_TIMEOUT_S``, default 8)."""
    return settings().action_timeout_s


def customer_id_for(session: Session, tracker: Tracker) -> int | None:
    """The customer a channel verified for the latest user message, if the account exists.

    Only the channel's stamp in the message metadata counts
    (:func:`bot.identity.metadata.verified_customer`): never a slot, the sender id, or an
    order number or e-mail typed in the chat.  ``None``: an anonymous visitor.
    """
    cid = verified_customer(tracker.events)
    if cid is None or session.get(Customer, cid) is None:
        return None
    return cid


def sign_in_needed(dispatcher: CollectingDispatcher) -> list[EventType]:
    """Tell an anonymous visitor how to sign in (``utter_sign_in_needed``); no events."""
    dispatcher.utter_message(response="utter_sign_in_needed")
    return []


T = TypeVar("T")


class ActionFailed(Exception):
    """A body run by :func:`run_in_worker` timed out or raised; the user has been told."""


def _with_session(body: Callable[[Session], T]) -> T:
    with session_scope() as session:
        return body(session)


async def run_in_worker(
    name: str, tracker: Tracker, dispatcher: CollectingDispatcher,
    body: Callable[[Session], T],
) -> T:
    """Run ``body(session)`` in a worker thread with its own database session (committed
    when it returns) under the time budget (:func:`action_timeout_s`), never on the event
    loop.

    Args:
        name: the action's name, for the log.
        tracker: the conversation (its sender id goes to the log).
        dispatcher: where "still checking" or the apology goes when the body fails.
        body: synchronous, thread-safe work on the session.

    Returns:
        What ``body`` returned.

    Raises:
        ActionFailed: the body took longer than the budget (the user hears
            :data:`STILL_CHECKING`; the late result is discarded) or raised (the user
            hears :data:`APOLOGY`; the error is logged).
    """
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_with_session, body), timeout=action_timeout_s()
        )
    except asyncio.TimeoutError:
        logger.warning("action %s timed out for %s", name, tracker.sender_id)
        dispatcher.utter_message(text=STILL_CHECKING)
    except Exception:
        logger.exception("action %s failed for %s", name, tracker.sender_id)
        dispatcher.utter_message(text=APOLOGY)
    raise ActionFailed(name)


def ask_with_form(form: str, pending: str) -> list[EventType]:
    """Events that start ``form`` to collect what the request needs first.

    Args:
        form: ``order_status_form`` or ``discount_form``.
        pending: the ``pending_request`` value ``action_resume_request`` finishes once the
            form is done (``order_status``, ``discount``).
    """
    return [SlotSet("pending_request", pending), FollowupAction(form)]


def _message(tracker: Tracker) -> tuple[str, str | None, str | None]:
    latest = tracker.latest_message or {}
    kicker = next(tracker.get_latest_entity_values("kicker"), None)
    return latest.get("text") or "", (latest.get("intent") or {}).get("name"), kicker


def follow_up_in_context(tracker: Tracker) -> FollowUp | None:
    """The follow-up the latest message makes to the conversation's topic (the ``topic``
    slot), see :func:`bot.dialogue.followups.follow_up`."""
    text, intent, kicker = _message(tracker)
    return follow_up(tracker.get_slot(TOPIC_SLOT), text, intent, kicker)


TOPIC_ACTIONS: dict[str, type[ShopAction]] = {}
"""The action answering each topic (its :attr:`ShopAction.topic`), filled as the action
modules are imported."""


class ShopAction(Action, metaclass=abc.ABCMeta):
    """Abstract base: subclasses implement :meth:`name` and :meth:`handle` (synchronous,
    thread-safe). Abstract, so rasa-sdk does not register it as an action.

    A subclass with a :attr:`topic` answers that topic's follow-ups too: a message that
    continues the conversation's topic (:func:`follow_up_in_context`) is answered by the
    topic's action, whichever action the dialogue predicted.
    """

    topic: ClassVar[str | None] = None
    """The topic this action answers (a value of ``TOPIC_OF_INTENT``), ``None``: none."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.topic is not None:
            TOPIC_ACTIONS[cls.topic] = cls

    def own_follow_up(self, tracker: Tracker) -> FollowUp | None:
        """What the latest message asks of this action's topic when the conversation is
        on it (the ``topic`` slot); ``None``: a plain request."""
        if tracker.get_slot(TOPIC_SLOT) != self.topic:
            return None
        text, intent, kicker = _message(tracker)
        return follow_up(self.topic, text, intent, kicker)

    @abc.abstractmethod
    def name(self) -> str:
        """Rasa action name."""

    @abc.abstractmethod
    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """The action's body.

        Args:
            session: an open database session, committed when the body returns.
            dispatcher: collects the messages to send.
            tracker: the conversation state.

        Returns:
            rasa-sdk events (e.g. ``SlotSet(...)``).
        """

    def _run_body(
        self, session: Session, tracker: Tracker
    ) -> tuple[CollectingDispatcher, list[EventType]]:
        own = CollectingDispatcher()
        return own, self.handle(session, own, tracker)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Run :meth:`handle` under the time budget; see the module docstring. For a
        flow action (one with a :attr:`topic`), a follow-up of the conversation's topic
        goes to that topic's action; the others (handoff, takeover check) never pass a
        message on.  A rehearsal (:mod:`bot.dialogue.rehearsal`) of an action that writes
        answers nothing and touches nothing."""
        routed = follow_up_in_context(tracker) if self.topic is not None else None
        owner = TOPIC_ACTIONS.get(routed.topic) if routed else None
        if owner is not None and owner is not type(self):
            return await owner().run(dispatcher, tracker, domain)
        if self.name() not in READ_ONLY_ACTIONS and is_rehearsal(tracker.events):
            logger.info("refused to rehearse %s (it writes) for %s", self.name(),
                        tracker.sender_id)
            return []
        try:
            own, events = await run_in_worker(
                self.name(), tracker, dispatcher, lambda session: self._run_body(session, tracker)
            )
        except ActionFailed:
            return []
        dispatcher.messages.extend(own.messages)
        return events
