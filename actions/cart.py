"""Cart problems: show the cart, repair the common problems, else offer a human."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import ShopAction, customer_id_for, sign_in_needed
from bot.store.carts import repair_cart, view_cart
from bot.support.wording import CART_LOOKS_RIGHT, cart_repaired, cart_summary


class ActionCartIssue(ShopAction):
    """Repair missing items, stale prices and out-of-stock lines; show the cart (a
    verified customer's only: anonymous visitors are told how to sign in)."""

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
        repair = repair_cart(session, cid)
        cart = view_cart(session, cid)
        events: list[EventType] = [SlotSet("customer_id", cid)]
        if repair.fixes:
            dispatcher.utter_message(text=cart_repaired(repair.fixes))
            dispatcher.utter_message(text=cart_summary(cart))
            dispatcher.utter_message(response="utter_anything_else")
            return events
        dispatcher.utter_message(text=cart_summary(cart))
        dispatcher.utter_message(text=CART_LOOKS_RIGHT)
        return [*events, FollowupAction("utter_offer_human")]
