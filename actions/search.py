"""``action_product_search``: product-search messages answered with hybrid search.

Channels render what they can: the widget (:data:`CARD_CHANNELS`) gets one line and the
product cards, text-only channels the product list as text (with the same payload).

Context rules (README, "Context rules"): a product query starts a new search, with the
``product_category``, ``colour``, ``brand`` and ``max_price`` of that message only (so a
new query without a price drops the old price filter); a message that only names a price,
colour or brand ("under $50", "in red?") refines the last search, keeping what it does not
change. The slots of the same names and ``search_query`` hold the last search. The search
and its wording are in :mod:`bot.search.chat`; errors and slow answers are handled by
:class:`ShopAction`.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction
from bot.search import get_service
from bot.search.chat import is_refinement, price_in_message, product_search_reply, strip_price

ENTITY_NAMES = ("product_category", "colour", "brand", "max_price")
CARD_CHANNELS = frozenset({"socketio"})
"""Input channels whose client shows ``product_cards`` payloads as cards (the widget): they
get the answer's intro line with the cards; the others (REST, Telegram, voice) the list
as text."""
QUERY_SLOT = "search_query"
"""Slot with the last search's words (without its price)."""
logger = logging.getLogger(__name__)


def warm_up() -> None:
    """Load the embedding model and sync the index now, so the first customer's search fits
    in the action time budget; a failure is logged and retried on first use.

    Called by the action server's entry point (:mod:`actions.__main__`) before it serves.
    """
    try:
        get_service().search("warm up", k=1)
    except Exception:
        logger.exception("product search warm-up failed; it will load on first use")


def search_request(tracker: Tracker) -> tuple[str, dict[str, Any]]:
    """The search the latest message asks for, by the context rules of the module.

    Returns:
        ``(message, values)``: the text to search (the last search's words followed by
        the message, for a refinement) and the ``ENTITY_NAMES`` values to use.
    """
    text = tracker.latest_message.get("text") or ""
    found = {name: next(tracker.get_latest_entity_values(name), None) for name in ENTITY_NAMES}
    previous = tracker.get_slot(QUERY_SLOT)
    attributes = [str(v) for v in (found["colour"], found["brand"]) if v]
    if not previous or not is_refinement(text, attributes):
        return text, found
    values = {name: found[name] or tracker.get_slot(name) for name in ENTITY_NAMES}
    values["max_price"] = found["max_price"] or price_in_message(text) or values["max_price"]
    return f"{previous} {text}", values


class ActionProductSearch(ShopAction):
    """Answer with the top three products (text + ``product_cards`` JSON payload)."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_product_search"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """Search and utter the answer; returns the slots of this search."""
        message, values = search_request(tracker)
        reply = product_search_reply(
            get_service(),
            message,
            category=values["product_category"],
            colour=values["colour"],
            brand=values["brand"],
            max_price=values["max_price"],
        )
        cards = tracker.get_latest_input_channel() in CARD_CHANNELS
        dispatcher.utter_message(text=reply.intro if cards else reply.text,
                                 json_message=reply.payload)
        return [
            *(SlotSet(name, None if v is None else str(v)) for name, v in values.items()),
            SlotSet(QUERY_SLOT, strip_price(message)),
        ]

