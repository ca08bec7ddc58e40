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


PHONE_HANDOFF_OPENING = "I've passed our conversation on to our support team."
"""The first sentence of every call-back reply (:func:`phone_handoff_reply`)."""

def phone_handoff_reply(ticket_id: int, created: bool) -> str:
    """Said on a phone call whose caller asked for a person: nobody can take over a call
    through the agent inbox, so a person calls back.  It opens with
    :data:`PHONE_HANDOFF_OPENING`, whatever the ticket."""
    ticket = (f"Your ticket number is {ticket_id}." if created
              else f"It is still ticket number {ticket_id}.")
    return (f"{PHONE_HANDOFF_OPENING} {ticket} A person will call you back on this number "
            "as soon as they can. You can hang up now.")


def phone_transfer_reply(ticket_id: int, created: bool) -> str:
    """Said on a phone call that is transferred to the agent number (Twilio ``<Say>``)."""
    opened = (f"I've opened ticket number {ticket_id}" if created
              else f"I already opened ticket number {ticket_id} for this")
    return f"{opened}. {CALL_PUT_THROUGH}"


CALL_PUT_THROUGH = "I'm putting you through to a person now, please hold."
"""Said on a phone call an agent transfers from the inbox (Twilio ``<Say>``)."""


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

SPOKEN_OPENINGS = (PHONE_HANDOFF_OPENING, *(hint.unseen for hint in FORM_HINTS.values()))
"""Sentences that open custom actions' replies on a phone call whatever the conversation
(the domain's responses aside): the call-back reply and the forms' hints for an answer
with nothing recognisable in it.  The voice channel synthesises their openings at start,
so a caller hears them without waiting for the synthesiser."""


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


# Follow-ups (issue #13): the questions customers ask next about the same order, payment,
# cart or code.  Every fact comes from the shop database through the arguments.

def methods_offered(methods: str) -> str:
    """Answer to "what payment methods do you take?": the methods of the customer's
    country (``methods``: their names joined)."""
    return f"In your country you can pay with {methods}."


def method_answer(name: str, available: bool, methods: str) -> str:
    """Answer to "can I pay with <name>?" (``methods``: the country's methods)."""
    if available:
        return f"Yes, you can pay with {name} in your country."
    return f"Sorry, {name} isn't offered in your country. You can pay with {methods}."


def unknown_method(methods: str) -> str:
    """Answer when the customer names no method the shop knows (``methods``: the
    country's)."""
    return f"I don't know that payment method. {methods_offered(methods)}"

RETRY_ADVICE = {
    "insufficient_funds": "It will go through once there are enough funds on the card, "
                          "or you can use another card or payment method.",
    "expired_card": "Please use a card that hasn't expired, or update the card's expiry "
                    "date first.",
    "authentication_failed": "When your bank asks you to confirm the payment (in its app "
                             "or by SMS), approve it within a few minutes.",
    "method_not_available": "Please choose a payment method your country offers.",
}
"""What to do differently before retrying, per decline code."""


def retry_answer(amount: Decimal, decline_code: str | None) -> str:
    """Answer to "can I retry?" after a declined payment of ``amount`` dollars."""
    advice = RETRY_ADVICE.get(decline_code or "", "")
    return (f"Yes, you can try again. The declined payment of {money(amount)} wasn't taken "
            f"from your account, so a new try can't charge you twice. {advice}").strip()


def nothing_to_retry(amount: Decimal) -> str:
    """Answer to "can I retry?" when the last payment (``amount`` dollars) went through."""
    return (f"Your last payment of {money(amount)} went through, so there's nothing to "
            "retry.")


def charge_question_answer(amount: Decimal, declined: bool) -> str:
    """Answer to "will I be charged twice?" about the last payment of ``amount``."""
    if declined:
        return (f"No. The declined payment of {money(amount)} wasn't charged, so when you "
                "pay again you're charged once.")
    return (f"No. Your payment of {money(amount)} went through once; paying again isn't "
            "needed. If you ever see two charges, tell me and I'll open a refund ticket.")


def why_late(order: OrderStatus) -> str:
    """Answer to "why is it late?" about ``order``: what the shop knows, nothing more."""
    if order.status == "delayed":
        text = (f"The carrier, {order.carrier or 'our courier'}, has reported a delay on "
                f"order {order.number}, and hasn't told us the reason.")
        if order.expected_date:
            text += f" It is now expected on {day(order.expected_date)}."
        if order.tracking_number:
            text += (f" You can follow it with tracking number {order.tracking_number} on "
                     f"{order.carrier}'s site.")
        return text
    return f"Order {order.number} isn't late: " + _lower_first(order_status(order))


def _lower_first(sentence: str) -> str:
    return sentence.replace("Your order", "your order", 1)


def change_address(order: OrderStatus) -> str:
    """Answer to "can I change the address?" for ``order`` (a person is offered after)."""
    if order.status in ("shipped", "delayed"):
        return (f"Order {order.number} is already with {order.carrier}, so I can't change "
                f"its delivery address. {order.carrier} may let you redirect it with "
                f"tracking number {order.tracking_number}, or a person from our team can "
                "try.")
    if order.status == "processing":
        return (f"Order {order.number} hasn't shipped yet, so its address can still be "
                "changed. A person from our team does that.")
    return f"Order {order.number} {STATUS_WORDS[order.status]}, so its address can't change."


def cancel_order(order: OrderStatus) -> str:
    """Answer to "cancel it" for ``order`` (a person is offered after, except when it is
    cancelled already)."""
    if order.status == "processing":
        return (f"Order {order.number} hasn't shipped yet, so it can still be cancelled. "
                "A person from our team does that.")
    if order.status in ("shipped", "delayed"):
        return (f"Order {order.number} is already with {order.carrier}, so it can't be "
                "cancelled now. Once it arrives, a person from our team can help you "
                "return it.")
    if order.status == "delivered":
        return (f"Order {order.number} was delivered, so it can't be cancelled, but a "
                "person from our team can help you return it.")
    return f"Order {order.number} is already cancelled."


def other_orders(orders: list[OrderStatus]) -> str:
    """The customer's other orders, one status each (``orders`` non-empty)."""
    return "\n".join(order_status(o) for o in orders)


NO_OTHER_ORDERS = "That's the only order I can see on your account."
"""Answer to "not that one" when the account has no other order."""


def line_price(title: str, unit_price: Decimal, shop_price: Decimal,
               old_price: Decimal | None, total: Decimal) -> str:
    """Answer to "it says 24.99 for the <line> but the site says less".

    Args:
        title: the cart line's product.
        unit_price: its unit price in the cart now (a repair has set it to the shop's);
            ``shop_price``: the catalogue's.
        old_price: the stale price the repair corrected, when it did.
        total: the cart's total now.
    """
    if old_price is not None and old_price != unit_price:
        return (f"You're right: {title} was in your cart at {money(old_price)}, but the "
                f"shop's price is {money(shop_price)}. I've corrected it, so your total is "
                f"now {money(total)}.")
    return (f"{title} is in your cart at {money(unit_price)} each, the same as the shop's "
            f"price. Your total is {money(total)}.")


def line_removed(title: str, total: Decimal) -> str:
    """After a cart line was removed; ``total``: the cart's new total."""
    return f"I've removed {title} from your cart. Your total is now {money(total)}."


def quantity_set(title: str, quantity: int, total: Decimal) -> str:
    """After a line's quantity changed; ``total``: the cart's new total."""
    return f"Done: {quantity} x {title} in your cart. Your total is now {money(total)}."


def no_such_line(titles: list[str]) -> str:
    """When the line a customer named is not in the cart (``titles``: what it holds)."""
    if not titles:
        return "Your cart is empty."
    return "I couldn't tell which item you mean. Your cart holds " + ", ".join(titles) + "."


ASK_QUANTITY = "How many would you like? Tell me a number, like \"make it 2\"."
"""When a quantity change names no number."""


def why_not(code: str, reason: str, detail: str | None, subtotal: Decimal | None) -> str:
    """Answer to "why not?" after the code ``code`` was refused for ``reason`` (a
    :class:`bot.store.discounts.DiscountResult` reason); ``subtotal``: the cart's now."""
    if reason == "min_order" and detail and subtotal is not None:
        return (f"{code} needs an order of at least ${detail}, and the items in your cart "
                f"come to {money(subtotal)}, so it can't apply yet.")
    if reason == "category" and detail:
        return (f"{code} only takes money off {detail.replace('-', ' ')} items, and your "
                "cart has none.")
    if reason in ("expired", "not_started") and detail:
        when = day(date.fromisoformat(detail))
        return (f"{code} ended on {when}." if reason == "expired"
                else f"{code} starts on {when}, so it doesn't work yet.")
    if reason == "already_used":
        return f"{code} can be used once per customer, and you've already used it."
    if reason == "unknown":
        return (f"There is no code {code} in our shop, so I couldn't apply it. Please "
                "check the spelling on your voucher.")
    return discount_result_reason(code, reason, detail)


def discount_result_reason(code: str, reason: str, detail: str | None) -> str:
    """The refusal sentence of :func:`discount_result` for ``reason``."""
    template = DISCOUNT_REASONS.get(reason, "The code {code} can't be applied.")
    return template.format(code=code, detail=detail)


def applied_already(code: str) -> str:
    """Answer to "why not?" when the last code did apply."""
    return f"{code} did apply to your cart: you'll see it in your total."


NO_CODE_IN_CONTEXT = "Which code do you mean? Tell me the code as it is written on your " \
    "voucher."
"""Answer to a code follow-up before any code was checked."""


def usable_codes_answer(offers: list[tuple[str, Decimal]]) -> str:
    """The codes that would apply to the cart now, each with its saving in dollars."""
    if not offers:
        return "None of our current codes would apply to your cart right now."
    listed = ", ".join(f"{code} (saves {money(saving)})" for code, saving in offers)
    return f"These codes would work on your cart now: {listed}. Just tell me which to apply."
