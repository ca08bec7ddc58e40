"""What the support flows say that is composed or chosen in code: facts from the shop
database in plain, short sentences, the forms' hints, and the actions' own answers.

Fixed replies the dialogue sends by name are ``domain.yml`` responses; the rule for where a
customer's text lives is in ``docs/architecture.md`` ("Customer wording").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from bot.store.carts import CartFix, CartView
from bot.store.discounts import DiscountResult
from bot.store.orders import OrderStatus
from bot.store.payments import PaymentAttempt

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


CART_FIXES = {
    "added": "added the missing {title}",
    "removed": "removed {title}, which is out of stock",
    "repriced": "corrected the price of {title} from ${old:.2f} to ${new:.2f}",
}
"""What the customer is told for each kind of :class:`bot.store.carts.CartFix`."""


def cart_fix(fix: CartFix) -> str:
    """One fix in words, to follow "I ..." ("added the missing Chanel Coco Noir")."""
    return CART_FIXES[fix.kind].format(title=fix.title, old=fix.old_price, new=fix.new_price)


def cart_repaired(fixes: list[CartFix]) -> str:
    """What a cart repair did: "I found the problem and fixed it: I <fix>; <fix>."."""
    return "I found the problem and fixed it: I " + "; ".join(map(cart_fix, fixes)) + "."


CART_LOOKS_RIGHT = "Everything in your cart looks right to me (prices, stock and totals)."
"""Said after the cart when a repair found nothing to fix (then a person is offered)."""


DECLINE_EXPLANATIONS: dict[str, str] = {
    "insufficient_funds": (
        "your bank declined it because there were not enough funds on the card. "
        "You can try another card or payment method, or try again once funds are available."
    ),
    "expired_card": (
        "the card has expired. Please update the expiry date or use another card."
    ),
    "authentication_failed": (
        "the 3-D Secure check with your bank did not complete (the confirmation in your "
        "banking app or the SMS code failed or timed out). Please try again and approve "
        "the payment when your bank asks."
    ),
    "method_not_available": (
        "that payment method is not offered in your country."
    ),
}
"""Plain-words reasons for the decline codes in :class:`bot.store.models.Payment`."""


def explain_decline(code: str | None) -> str:
    """Plain-words reason for a decline code (a generic one for unknown codes)."""
    return DECLINE_EXPLANATIONS.get(
        code or "", "the payment was declined by the payment provider."
    )


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


def handoff_offline_reply(ticket_id: int, created: bool, next_open: datetime | None) -> str:
    """Reply to a request for a person while no agent is online: when the team is next at
    work (``next_open``, aware, in the shop's zone; ``None``: unknown) and where to reply.
    ``created=False``: the ticket was already open."""
    opened = (f"I've opened ticket #{ticket_id} for our support team" if created
              else f"I already opened ticket #{ticket_id} for this")
    if next_open is None:
        when = "They'll reply as soon as they're back."
    elif next_open - datetime.now(next_open.tzinfo) < timedelta(minutes=1):
        when = "Nobody is at their desk this minute, but someone should be back soon."
    else:
        when = (f"Nobody is online right now; they're next available "
                f"{next_open.strftime('%A at %H:%M')} ({next_open.tzname()}).")
    return (f"{opened}. {when} Please leave your e-mail address here and a person will "
            "reply to it, or keep this chat open: your conversation waits in their queue.")


def contact_email_noted(email: str) -> str:
    """Said when a customer waiting for a person left an e-mail address."""
    return f"Thank you. If we can't reply here, we'll write to {email}."


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


ENGLISH_ONLY = "Sorry, I only understand English for now. Could you ask me in English?"
"""What a customer writing in another language hears (:mod:`bot.support.language`)."""

STILL_CHECKING = (
    "I'm still checking that with our systems, and it's taking longer than usual. "
    "Please try again in a minute, or ask me to connect you with a person."
)
"""Said when an action's body runs past its time budget (``actions/base.py``)."""

APOLOGY = (
    "Sorry, something went wrong on my side and I couldn't finish that. "
    "Please try again in a moment, or ask for a person."
)
"""What the customer reads when their message could not be answered: an action failed
(:class:`actions.base.ShopAction`) or a turn was silent by accident
(:func:`bot.dialogue.turn.run_turn`)."""

BACK_FROM_HUMAN = "Our support team has closed your ticket, so I'm back. How can I help?"
"""Said on the first message after an agent closed the takeover ticket."""

BACK_AND_RATE = (
    "Our support team has closed your ticket, so I'm back. How would you rate the help "
    "you got, from 1 (poor) to 5 (excellent)? You can add a comment after the number."
)
"""Sent as soon as an agent closes the conversation in the agent inbox."""
RATING_BUTTONS = [{"title": str(n), "payload": str(n)} for n in range(1, 6)]
"""Quick replies under :data:`BACK_AND_RATE`: pressing one sends the number as text."""
RATING_THANKS = "Thank you for your rating! Is there anything else I can help with?"
"""Said when the customer's answer to :data:`BACK_AND_RATE` was a rating."""
RATING_SKIPPED = "No problem. What can I help you with?"
"""Said when the customer's answer to :data:`BACK_AND_RATE` was not a rating (their
message is kept in the conversation; the assistant asks them to say it again)."""


def order_not_found(number: str, signed_in: bool) -> str:
    """Reply when no order ``number`` matches: on the signed-in customer's account, or
    with the e-mail address an anonymous visitor gave."""
    if signed_in:
        return (f"I couldn't find an order {number} on your account. Please check the "
                "number: it's TL followed by five digits, in your confirmation e-mail.")
    return (f"I couldn't find an order {number} with that e-mail address. Please "
            "check both in your confirmation e-mail, or sign in to see your orders.")


def no_payments(methods: str) -> str:
    """Reply when the account has no payment attempts; ``methods``: the accepted ones."""
    return f"I can't see any payment attempts on your account. We accept {methods}."


def methods_in_country(methods: str) -> str:
    """The payment methods the customer's country can use, after a declined attempt."""
    return f"In your country you can pay with {methods}."


def two_charges(amount: Decimal, order_number: str) -> str:
    """The ``found`` sentence of :func:`double_charge_reply` for a duplicate charge."""
    return f"I can see two charges of {money(amount)} for order {order_number}. "


NO_DUPLICATE_SEEN = "I can't see a duplicate charge yet (pending charges can take a day). "
"""The ``found`` sentence of :func:`double_charge_reply` when no duplicate shows yet."""


@dataclass(frozen=True)
class FormHint:
    """What a form says when an answer does not fill its slot.

    Attributes:
        wanted: what the form asked for, with its article ("a discount code").
        unseen: the hint when the answer is nothing recognisable.
        how: the sentence after the hint that says what a value looks like.
    """

    wanted: str
    unseen: str
    how: str


FORM_HINTS = {
    "order_id": FormHint(
        "an order number", "That doesn't look like an order number.",
        "It's TL followed by five digits, for example TL-10042."),
    "order_email": FormHint(
        "an e-mail address", "I couldn't see an e-mail address in that.",
        "Please type the address the order confirmation went to, like name@example.com."),
    "discount_code": FormHint(
        "a discount code", "I couldn't see a discount code in that.",
        "Please type the code as it is written on your voucher, or say \"stop\" to "
        "leave it."),
}
"""The hints of the forms' slots."""


def form_hint(slot: str, kind: str | None) -> str:
    """The hint for an answer that does not fill ``slot`` (a key of :data:`FORM_HINTS`).

    Args:
        slot: the slot the form asked for.
        kind: what the answer looks like instead ("e-mail address", from
            :func:`bot.support.answers.what_it_is`), ``None`` when nothing recognisable.

    Returns:
        "That looks like an <kind>, not <wanted>." (or the slot's ``unseen``) + its ``how``.
    """
    hint = FORM_HINTS[slot]
    said = f"That looks like an {kind}, not {hint.wanted}." if kind else hint.unseen
    return f"{said} {hint.how}"
