"""``action_product_search``: product-search messages answered with hybrid search.

Reads the latest message and the ``product_category``, ``colour``, ``brand`` and
``max_price`` entities (falling back to slots of the same names); the logic is in
:mod:`bot.search.chat`. Errors and slow answers are handled by :class:`ShopAction`.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction
from bot.search import get_service
from bot.search.chat import product_search_reply

ENTITY_NAMES = ("product_category", "colour", "brand", "max_price")
logger = logging.getLogger(__name__)


def warm_up() -> None:
    """Load the embedding model and sync the index now, so the first customer's search fits
    in the action time budget; a failure is logged and retried on first use."""
    try:
        get_service().search("warm up", k=1)
    except Exception:
        logger.exception("product search warm-up failed; it will load on first use")


def entity_or_slot(tracker: Tracker, name: str) -> Any:
    """The latest message's ``name`` entity, else the slot ``name`` (``None`` if neither)."""
    value = next(tracker.get_latest_entity_values(name), None)
    return value if value is not None else tracker.get_slot(name)


class ActionProductSearch(ShopAction):
    """Answer with the top three products (text + ``product_cards`` JSON payload)."""

    def name(self) -> str:
        """Rasa action name."""
        return "action_product_search"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]:
        """Search and utter the answer; returns no events."""
        values = {name: entity_or_slot(tracker, name) for name in ENTITY_NAMES}
        reply = product_search_reply(
            get_service(),
            tracker.latest_message.get("text") or "",
            category=values["product_category"],
            colour=values["colour"],
            brand=values["brand"],
            max_price=values["max_price"],
        )
        dispatcher.utter_message(text=reply.text, json_message=reply.payload)
        return []


warm_up()  # runs when the action server imports the actions package
