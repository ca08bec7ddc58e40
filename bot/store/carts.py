"""Carts: totals, problem detection and the fixes support may apply.

Money is in dollars as :class:`~decimal.Decimal` with 2 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.store.db import insert_once
from bot.store.models import Cart, CartEvent, CartItem, DiscountCode, Product

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CartLine:
    """One cart line as shown to the customer."""

    product_id: int
    title: str
    category: str
    quantity: int
    unit_price: Decimal
    in_stock: bool

    @property
    def total(self) -> Decimal:
        """``unit_price * quantity``."""
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass(frozen=True)
class CartView:
    """A cart with its subtotal, discount and total."""

    lines: list[CartLine]
    subtotal: Decimal
    discount_code: str | None
    discount: Decimal
    total: Decimal


@dataclass(frozen=True)
class CartFix:
    """One change :func:`repair_cart` made (the customer's words for it are in
    :func:`bot.support.wording.cart_fix`).

    Attributes:
        kind: ``added`` (a lost item was added), ``removed`` (a line without enough stock
            was removed) or ``repriced`` (a stale unit price was set to the catalogue's).
        title: the product's title.
        old_price, new_price: the unit price before and after, in dollars (``repriced``
            only).
    """

    kind: Literal["added", "removed", "repriced"]
    title: str
    old_price: Decimal | None = None
    new_price: Decimal | None = None


@dataclass
class CartRepair:
    """What :func:`repair_cart` changed, one :class:`CartFix` per fix."""

    fixes: list[CartFix] = field(default_factory=list)


def get_cart(session: Session, customer_id: int) -> Cart | None:
    """The customer's cart row, or ``None``."""
    return session.scalar(select(Cart).where(Cart.customer_id == customer_id))


def discount_amount(code: DiscountCode, lines: list[CartLine]) -> Decimal:
    """Discount of ``code`` on ``lines``: percent or fixed, limited to eligible lines.

    Returns:
        The discount in dollars, never more than the eligible subtotal.
    """
    eligible = sum(
        (ln.total for ln in lines if code.category in (None, ln.category)), Decimal("0")
    )
    if code.percent_off is not None:
        amount = eligible * Decimal(code.percent_off) / 100
    else:
        amount = Decimal(code.amount_off or 0)
    return min(amount, eligible).quantize(CENT, rounding=ROUND_HALF_UP)


def view_cart(session: Session, customer_id: int) -> CartView | None:
    """Lines, subtotal, applied discount and total of the customer's cart."""
    cart = get_cart(session, customer_id)
    if cart is None:
        return None
    lines = [
        CartLine(i.product_id, i.product.title, i.product.category, i.quantity,
                 Decimal(i.unit_price).quantize(CENT), i.product.stock >= i.quantity)
        for i in sorted(cart.items, key=lambda i: i.id)
    ]
    subtotal = sum((ln.total for ln in lines), Decimal("0.00"))
    discount = Decimal("0.00")
    if cart.discount_code:
        discount = discount_amount(session.get(DiscountCode, cart.discount_code), lines)
    return CartView(lines, subtotal, cart.discount_code, discount, subtotal - discount)


def _claim(session: Session, event: CartEvent) -> bool:
    """Mark a lost ``add`` event applied unless another transaction did first.

    A conditional ``UPDATE ... WHERE applied = false``: the row lock (PostgreSQL) or the
    write lock (SQLite) lets one transaction change it; the other matches no row.

    Returns:
        Whether this transaction claimed the event (and so must add the item).
    """
    claimed = session.execute(
        update(CartEvent).where(CartEvent.id == event.id, CartEvent.applied.is_(False))
        .values(applied=True).execution_options(synchronize_session=False)
    ).rowcount == 1
    session.expire(event)
    return claimed


def _remove_line(session: Session, item: CartItem) -> bool:
    """Delete a cart line unless another transaction did first; ``True`` if this one did."""
    removed = session.execute(
        delete(CartItem).where(CartItem.id == item.id)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    session.expunge(item)
    return removed


def repair_cart(session: Session, customer_id: int) -> CartRepair:
    """Fix the common cart problems in place.

    * an item the shop logged as added but that never reached the cart is added;
    * a line whose unit price differs from the catalogue price is re-priced;
    * a line with too little stock is removed (the customer is told).

    Idempotent, also when two repairs of one cart run at the same moment: the cart row is
    created once (unique ``customer_id``), a lost item is added by the repair that claims
    its event (:func:`_claim`), a line is removed by one repair only, and a price is set
    to the catalogue price (the same value whoever writes it).

    Returns:
        The list of fixes applied (empty when the cart looked right).
    """
    repair = CartRepair()
    cart = get_cart(session, customer_id)
    if cart is None:
        insert_once(session, Cart.__table__, {"customer_id": customer_id}, ["customer_id"])
        cart = get_cart(session, customer_id)
    lost = session.scalars(
        select(CartEvent).where(CartEvent.customer_id == customer_id,
                                CartEvent.kind == "add", CartEvent.applied.is_(False))
    ).all()
    for event in lost:
        if not _claim(session, event):
            continue  # a concurrent repair of the same cart added it already
        product = session.get(Product, event.product_id)
        cart.items.append(CartItem(product_id=product.id, quantity=event.quantity,
                                   unit_price=product.price))
        repair.fixes.append(CartFix("added", product.title))
    for item in list(cart.items):
        product = item.product or session.get(Product, item.product_id)
        if product.stock < item.quantity:
            if _remove_line(session, item):
                repair.fixes.append(CartFix("removed", product.title))
            session.expire(cart, ["items"])
        elif Decimal(item.unit_price).quantize(CENT) != Decimal(product.price).quantize(CENT):
            repair.fixes.append(CartFix("repriced", product.title, Decimal(item.unit_price),
                                        Decimal(product.price)))
            item.unit_price = product.price
    session.flush()
    return repair


def catalogue_price(session: Session, product_id: int) -> Decimal | None:
    """The shop's current price of a product in dollars; ``None`` for an unknown id."""
    product = session.get(Product, product_id)
    return None if product is None else Decimal(product.price).quantize(CENT)


def remove_product(session: Session, customer_id: int, product_id: int) -> bool:
    """Take every line of ``product_id`` out of the customer's cart.

    Returns:
        Whether a line was removed (``False``: no cart, or the product was not in it, or a
        concurrent request removed it first).
    """
    removed = session.execute(
        delete(CartItem).where(
            CartItem.product_id == product_id,
            CartItem.cart_id.in_(select(Cart.id).where(Cart.customer_id == customer_id)))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire_all()
    return bool(removed)


def set_quantity(session: Session, customer_id: int, product_id: int, quantity: int) -> bool:
    """Set the quantity of ``product_id`` in the customer's cart (``quantity`` >= 1; 0
    removes the line, see :func:`remove_product`).

    Returns:
        Whether the product was in the cart and now has that quantity.

    Raises:
        ValueError: a negative quantity.
    """
    if quantity < 0:
        raise ValueError("quantity must be >= 0")
    if quantity == 0:
        return remove_product(session, customer_id, product_id)
    changed = session.execute(
        update(CartItem).where(
            CartItem.product_id == product_id,
            CartItem.cart_id.in_(select(Cart.id).where(Cart.customer_id == customer_id)))
        .values(quantity=quantity).execution_options(synchronize_session=False)
    ).rowcount
    session.expire_all()
    return bool(changed)
