"""Cart problems: show the cart, repair the common problems, else offer a human; and the
follow-ups about one line of it (its price, removing it, its quantity)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, customer_id_for, sign_in_needed
from bot.store.carts import (
    CartView,
    catalogue_price,
    remove_product,
    repair_cart,
    set_quantity,
    view_cart,
)
from bot.support.followups import fixes_context, named_line, old_price_of, quantity_in
from bot.support.wording import (
    ASK_QUANTITY,
    CART_LOOKS_RIGHT,
    cart_repaired,
    cart_summary,
    line_price,
    line_removed,
    no_such_line,
    quantity_set,
)

CONTEXT_SLOT = "last_cart"
"""Slot with the last repair's fixes (:func:`bot.support.followups.fixes_context`), so a
follow-up can name a line by the price it had ("it says 24.99")."""


class ActionCartIssue(ShopAction):
    """Repair missing items, stale prices and out-of-stock lines; show the cart (a
    verified customer's only: anonymous visitors are told how to sign in). Follow-ups
    name a line (by its words, its price, or "it" for the line a repair corrected): its
    price, removing it, or changing its quantity."""

    topic = "cart"

    def name(self) -> str:
        """Rasa action name."""
        return "action_cart_issue"

    def handle(
        self, session: Session, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """See the class docstring."""
        cid = customer_id_for(session, tracker)
        if cid is None:
            return sign_in_needed(dispatcher)
        asked = self.own_follow_up(tracker)
        context = (tracker.get_slot(CONTEXT_SLOT) or {}).get("fixes") or []
        repair = repair_cart(session, cid)
        fixes = fixes_context(repair.fixes) + list(context)
        cart = view_cart(session, cid)
        events: list[EventType] = [SlotSet("customer_id", cid), SlotSet("topic", self.topic),
                                   SlotSet(CONTEXT_SLOT, {"fixes": fixes})]
        if asked is not None and cart is not None:
            text = tracker.latest_message.get("text") or ""
            answer = self._line_answer(session, cid, cart, asked.kind, text, fixes)
            dispatcher.utter_message(text=answer)
            return events
        if repair.fixes and cart is not None:
            dispatcher.utter_message(text=cart_repaired(repair.fixes))
            dispatcher.utter_message(text=cart_summary(cart))
            dispatcher.utter_message(response="utter_anything_else")
            return events
        if cart is not None:
            dispatcher.utter_message(text=cart_summary(cart))
        dispatcher.utter_message(text=CART_LOOKS_RIGHT)
        return [*events, FollowupAction("utter_offer_human")]

    @staticmethod
    def _line_answer(session: Session, cid: int, cart: CartView, kind: str, text: str,
                     fixes: list[dict[str, str]]) -> str:
        """The answer to a line follow-up (``line_price``, ``remove``, ``quantity``)."""
        line = named_line(cart.lines, text, fixes)
        if line is None:
            return no_such_line([ln.title for ln in cart.lines])
        if kind == "remove":
            remove_product(session, cid, line.product_id)
            after = view_cart(session, cid)
            return line_removed(line.title, after.total if after else cart.total)
        if kind == "quantity":
            quantity = quantity_in(text)
            if quantity is None:
                return ASK_QUANTITY
            set_quantity(session, cid, line.product_id, quantity)
            after = view_cart(session, cid)
            total = after.total if after else cart.total
            return (line_removed(line.title, total) if quantity == 0
                    else quantity_set(line.title, quantity, total))
        shop = catalogue_price(session, line.product_id) or line.unit_price
        return line_price(line.title, line.unit_price, shop,
                          old_price_of(line.title, fixes), cart.total)
