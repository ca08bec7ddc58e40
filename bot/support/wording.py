"""How the assistant words facts from the shop database (plain, short sentences)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.store.carts import CartView
from bot.store.discounts import DiscountResult
from bot.store.orders import OrderStatus
from bot.store.payments import PaymentAttempt, explain_decline

APOLOGY = (
    "Sorry, something went wrong on my side and I couldn't finish that. "
    "Please try again in a moment, or ask for a person."
)
"""What the customer reads when their message could not be answered: an action failed
(:class:`actions.base.ShopAction`) or a turn was silent by accident
(:func:`bot.dialogue.turn.run_turn`)."""

STATUS_WORDS = {
    "processing": "is being prepared in our warehouse",
    "shipped": "is on its way",
    "delayed": "is delayed",
    "delivered": "was delivered",
    "cancelled": "was cancelled",
}


def money(amount: Decimal | float) -> str:
    """``$1,234.50`` style formatting of a dollar amount."""
    return f"${Decimal(amount):,.2f}"


def day(d: date) -> str:
    """``Tuesday 1 December 2026`` style date."""
    return f"{d:%A} {d.day} {d:%B %Y}"


def order_status(order: OrderStatus) -> str:
    """One or two sentences on an order's status, carrier and expected date."""
    text = f"Your order {order.number} {STATUS_WORDS.get(order.status, order.status)}"
    if order.carrier and order.status in ("shipped", "delayed"):
        text += f" with {order.carrier}"
        if order.tracking_number:
            text += f" (tracking number {order.tracking_number})"
    text += "."
    if order.expected_date and order.status == "delivered":
        text += f" It arrived on {day(order.expected_date)}."
    elif order.expected_date and order.status != "cancelled":
        prefix = "It is now expected on" if order.status == "delayed" else "Expected delivery:"
        text += f" {prefix} {day(order.expected_date)}."
    if order.status == "delayed":
        text += " Sorry for the wait."
    return text


def cart_summary(cart: CartView) -> str:
    """Multi-line cart listing with subtotal, discount and total."""
    if not cart.lines:
        return "Your cart is empty."
    rows = [
        f"- {ln.quantity} x {ln.title} at {money(ln.unit_price)} = {money(ln.total)}"
        + ("" if ln.in_stock else " (out of stock)")
        for ln in cart.lines
    ]
    rows.append(f"Subtotal: {money(cart.subtotal)}")
    if cart.discount_code:
        rows.append(f"Discount ({cart.discount_code}): -{money(cart.discount)}")
    rows.append(f"Total: {money(cart.total)}")
    return "Here's your cart:\n" + "\n".join(rows)


def payment_attempt(p: PaymentAttempt) -> str:
    """Sentence describing one payment attempt and, if declined, why in plain words."""
    when = f"{p.created_at:%d %b %H:%M} UTC"
    method = p.method.replace("_", " ")
    if p.status == "succeeded":
        return f"Your payment of {money(p.amount)} by {method} on {when} went through."
    return (f"Your payment of {money(p.amount)} by {method} on {when} was declined: "
            f"{explain_decline(p.decline_code)}")


DISCOUNT_REASONS = {
    "unknown": "I couldn't find the code {code}. Please check the spelling.",
    "not_started": "The code {code} isn't active yet: it starts on {detail}.",
    "expired": "The code {code} has expired: it ended on {detail}.",
    "min_order": "The code {code} needs an order of at least ${detail}, and your cart "
                 "is below that.",
    "category": "The code {code} only applies to {detail} items, and there are none in "
                "your cart.",
    "already_used": "The code {code} can be used once per customer, and you've already "
                    "used it.",
    "no_cart": "You don't have a cart yet, so there's nothing to apply {code} to.",
}


def double_charge_reply(found: str, ticket_id: int, created: bool) -> str:
    """Reply to a double-charge complaint.

    Args:
        found: what was found, a sentence ending with a space ("I can see two charges...").
        ticket_id: the refund ticket's number.
        created: ``False`` when the ticket already existed (the same complaint again).
    """
    if not created:
        return (found + f"I already opened ticket #{ticket_id} for this, so there's no need "
                "to report it again: our payments team will refund the duplicate and reply "
                "within one business day.")
    return (found + f"I've opened ticket #{ticket_id} so our payments team can refund "
            "the duplicate; they reply within one business day.")


def handoff_reply(ticket_id: int, created: bool) -> str:
    """Reply to a request for a person; ``created=False``: the ticket was already open."""
    opened = (f"I've opened ticket #{ticket_id}" if created
              else f"I already opened ticket #{ticket_id} for this")
    return (opened + " and passed our conversation to our support team. A person will "
            "reply right here; until then I'll stay quiet.")


def discount_result(result: DiscountResult) -> str:
    """Why a code did not apply, or the new total when it did."""
    if result.applied and result.cart is not None and result.reason == "already_applied":
        return (f"{result.code} is already applied to your cart: you save "
                f"{money(result.cart.discount)}, and your total is {money(result.cart.total)}.")
    if result.applied and result.cart is not None:
        return (f"Done! {result.code} is applied: you save {money(result.cart.discount)}, "
                f"and your new total is {money(result.cart.total)}.")
    template = DISCOUNT_REASONS.get(result.reason, "The code {code} can't be applied.")
    return template.format(code=result.code, detail=result.detail)
