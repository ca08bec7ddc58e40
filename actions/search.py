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
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction
from bot.dialogue.followups import THAT_ONE, FollowUp
from bot.search import get_service
from bot.search.chat import (
    ChatReply,
    is_refinement,
    price_in_message,
    product_reply,
    product_search_reply,
    strip_price,
)
from bot.search.types import SearchHit
from bot.store.models import Product

ENTITY_NAMES = ("product_category", "colour", "brand", "max_price")
CARD_CHANNELS = frozenset({"socketio"})
"""Input channels whose client shows ``product_cards`` payloads as cards (the widget): they
get the answer's intro line with the cards; the others (REST, Telegram, voice) the list
as text."""
QUERY_SLOT = "search_query"
"""Slot with the last search's words (without its price)."""
LISTED_SLOT = "last_products"
"""Slot with the ids of the products last listed, in order ("the second one")."""
PICKED_SLOT = "picked_product"
"""Slot with the id of the product last named ("that one", "it")."""
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


def _hit(product: Product) -> SearchHit:
    return SearchHit(product.id, product.title, product.category, product.brand,
                     float(product.price), int(product.stock), 1.0, 1)


def referenced(asked: FollowUp, listed: list[int], picked: int | None) -> int | None:
    """The product id a follow-up names: "the second one" → the second listed, "that one"
    or "it" → the one last picked, else the first listed; ``None`` when it names none
    (or an index past the list)."""
    if asked.ref == THAT_ONE:
        return picked if picked in listed else (listed[0] if listed else None)
    if isinstance(asked.ref, int) and -len(listed) <= asked.ref < len(listed):
        return listed[asked.ref]
    return None


class ActionProductSearch(ShopAction):
    """Answer with the top three products (text + ``product_cards`` JSON payload).

    Follow-ups of the last list (the slots ``last_products``, ``picked_product`` and
    the last search's): "the second one" / "that one" (its details), "cheaper" (below the
    cheapest shown, or the one named), "another colour", "only in stock", "more like
    this", "not that one" (the next products of the same search).
    """

    topic = "search"

    def name(self) -> str:
        """Rasa action name."""
        return "action_product_search"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """Search and utter the answer; returns the slots of this search."""
        asked = self.own_follow_up(tracker)
        listed = [int(i) for i in tracker.get_slot(LISTED_SLOT) or []]
        if asked is not None and listed and tracker.get_slot(QUERY_SLOT):
            return self._follow_up(session, dispatcher, tracker, asked, listed)
        message, values = search_request(tracker)
        reply = product_search_reply(
            get_service(),
            message,
            category=values["product_category"],
            colour=values["colour"],
            brand=values["brand"],
            max_price=values["max_price"],
        )
        _utter(dispatcher, tracker, reply)
        return [
            *(SlotSet(name, None if v is None else str(v)) for name, v in values.items()),
            SlotSet(QUERY_SLOT, strip_price(message)), SlotSet("topic", self.topic),
            SlotSet(LISTED_SLOT, [h.id for h in reply.products]), SlotSet(PICKED_SLOT, None),
        ]

    @staticmethod
    def _follow_up(session: Session, dispatcher: CollectingDispatcher, tracker: Tracker,
                   asked: FollowUp, listed: list[int]) -> list[EventType]:
        """Answer a follow-up of the last list; only what it changes changes."""
        picked = tracker.get_slot(PICKED_SLOT)
        named = referenced(asked, listed, int(picked) if picked is not None else None)
        query = str(tracker.get_slot(QUERY_SLOT))
        values: dict[str, Any] = {name: tracker.get_slot(name) for name in ENTITY_NAMES}
        if asked.kind == "pick":
            product = session.get(Product, named if named is not None else listed[0])
            reply = product_reply(_hit(product), product.description or "")
            _utter(dispatcher, tracker, reply)
            return [SlotSet(PICKED_SLOT, product.id), SlotSet("topic", "search")]
        exclude: list[int] = listed
        in_stock = asked.kind == "in_stock"
        if asked.kind == "cheaper":
            basis = [named] if named is not None else listed
            prices = [float(p.price) for p in (session.get(Product, i) for i in basis) if p]
            values["max_price"] = f"{min(prices) - 0.01:.2f}" if prices else values["max_price"]
        elif asked.kind == "other_colour" and values["colour"]:
            query = re.sub(rf"(?i)\b{re.escape(str(values['colour']))}\b", " ", query).strip()
            values["colour"] = None
        elif asked.kind == "more_like":
            product = session.get(Product, named if named is not None else listed[0])
            query, values["product_category"] = product.title, product.category
        elif in_stock:
            exclude = []
        reply = product_search_reply(
            get_service(), query or str(tracker.get_slot(QUERY_SLOT)),
            category=values["product_category"], colour=values["colour"],
            brand=values["brand"], max_price=values["max_price"], exclude=exclude,
            in_stock=in_stock)
        _utter(dispatcher, tracker, reply)
        shown = [h.id for h in reply.products]
        return [
            *(SlotSet(name, None if v is None else str(v)) for name, v in values.items()),
            SlotSet("topic", "search"), SlotSet(PICKED_SLOT, None),
            *([SlotSet(LISTED_SLOT, shown)] if shown else []),
        ]


def _utter(dispatcher: CollectingDispatcher, tracker: Tracker, reply: ChatReply) -> None:
    """Send ``reply``: the intro and cards to a card channel, the text elsewhere."""
    cards = tracker.get_latest_input_channel() in CARD_CHANNELS
    dispatcher.utter_message(text=reply.intro if cards else reply.text,
                             json_message=reply.payload)

