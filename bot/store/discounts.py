"""Discount code validation and application to a cart."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.carts import CartView, discount_amount, get_cart, view_cart
from bot.store.db import insert_once
from bot.store.models import DiscountCode, DiscountRedemption, today

CODE_MAX_LEN = 40


@dataclass(frozen=True)
class DiscountResult:
    """Outcome of applying a code.

    ``reason`` is one of ``applied``, ``already_applied`` (the code was on the cart
    already: nothing changed), ``unknown``, ``not_started``, ``expired``,
    ``min_order``, ``category``, ``already_used``, ``no_cart``; ``detail`` completes it
    (a date, an amount or a category); ``cart`` is the cart after the attempt.
    """

    code: str
    applied: bool
    reason: str
    detail: str | None
    cart: CartView | None


def normalise_code(text: str) -> str:
    """Codes are case-insensitive; stored upper-case without spaces."""
    return "".join(text.split()).upper()[:CODE_MAX_LEN]


def apply_code(session: Session, customer_id: int, raw_code: str) -> DiscountResult:
    """Validate ``raw_code`` for the customer's cart and apply it when valid.

    Checks, in order: the code exists, today is within its active dates, the cart's
    subtotal reaches the minimum order value, the cart holds an item of the code's
    category (if restricted), and a single-use code was not used by this customer before.
    On success the code is stored on the cart and a redemption recorded.

    Idempotent: a code already on the cart is reported as ``already_applied`` (not as
    used), and the redemption is inserted once per customer and code even when the same
    request runs twice at the same moment (:func:`~bot.store.db.insert_once` on the
    unique ``(code, customer_id)``).
    """
    code = normalise_code(raw_code)
    cart = get_cart(session, customer_id)
    if cart is None:
        return DiscountResult(code, False, "no_cart", None, None)
    before = view_cart(session, customer_id)
    promo = session.get(DiscountCode, code)
    if promo is not None and cart.discount_code == code:
        return DiscountResult(code, True, "already_applied", None, before)

    def fail(reason: str, detail: str | None = None) -> DiscountResult:
        return DiscountResult(code, False, reason, detail, before)

    if promo is None:
        return fail("unknown")
    refusal = _refusal(session, promo, customer_id, before)
    if refusal is not None:
        return fail(*refusal)
    cart.discount_code = code
    insert_once(session, DiscountRedemption.__table__,
                {"code": code, "customer_id": customer_id}, ["code", "customer_id"])
    session.flush()
    return DiscountResult(code, True, "applied", None, view_cart(session, customer_id))


def _refusal(
    session: Session, promo: DiscountCode, customer_id: int, before: CartView
) -> tuple[str, str | None] | None:
    """Why ``promo`` cannot apply to the cart ``before`` (``(reason, detail)`` as in
    :class:`DiscountResult`), or ``None`` when it can."""
    if today() < promo.starts_on:
        return "not_started", promo.starts_on.isoformat()
    if today() > promo.ends_on:
        return "expired", promo.ends_on.isoformat()
    if before.subtotal < Decimal(promo.min_order_value):
        return "min_order", f"{Decimal(promo.min_order_value):.2f}"
    if promo.category and not any(ln.category == promo.category for ln in before.lines):
        return "category", promo.category
    used = session.scalar(select(DiscountRedemption).where(
        DiscountRedemption.code == promo.code, DiscountRedemption.customer_id == customer_id))
    if promo.single_use and used is not None:
        return "already_used", None
    if discount_amount(promo, before.lines) <= 0:
        return "category", promo.category
    return None


@dataclass(frozen=True)
class CodeOffer:
    """A code the customer can use on their cart now and what it takes off (dollars)."""

    code: str
    percent_off: Decimal | None
    amount_off: Decimal | None
    saving: Decimal


def usable_codes(session: Session, customer_id: int) -> list[CodeOffer]:
    """The codes that would apply to the customer's cart today, largest saving first
    (empty without a cart); the code already on the cart is left out."""
    cart = get_cart(session, customer_id)
    before = view_cart(session, customer_id)
    if cart is None or before is None:
        return []
    offers = []
    for promo in session.scalars(select(DiscountCode).order_by(DiscountCode.code)).all():
        if promo.code == cart.discount_code or _refusal(session, promo, customer_id, before):
            continue
        offers.append(CodeOffer(
            promo.code, None if promo.percent_off is None else Decimal(promo.percent_off),
            None if promo.amount_off is None else Decimal(promo.amount_off),
            discount_amount(promo, before.lines)))
    return sorted(offers, key=lambda o: -o.saving)
