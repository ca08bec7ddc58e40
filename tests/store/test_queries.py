from decimal import Decimal

import pytest

from bot.store import customers
from bot.store.carts import CartFix, get_cart, repair_cart, view_cart
from bot.store.discounts import apply_code
from bot.store.models import DiscountRedemption, Ticket
from bot.store.orders import find_order
from bot.store.payments import find_double_charge, methods_for_country, recent_payments
from bot.store.tickets import close_ticket, open_ticket, takeover_ticket


def cid(session, sender):
    return customers.by_sender(session, sender).id


@pytest.mark.parametrize("text", ["TL-10003", "tl10003", "#10003", "order 10003 please"])
def test_order_number_spellings(session, text):
    order = find_order(session, text)
    assert order.number == "TL-10003" and order.status == "delayed" and order.carrier == "UPS"


def test_unknown_and_garbage_order_numbers(session):
    assert find_order(session, "TL-99999") is None
    assert find_order(session, "1 OR 1=1") is None
    assert customers.normalise_order_number("") is None


@pytest.mark.parametrize("text", ["TL-100011", "order 100031", "TL-99999999999", "4111110003123"])
def test_longer_digit_runs_are_no_order_number(text):
    assert customers.normalise_order_number(text) is None


def test_customer_lookup_by_email_is_case_insensitive(session):
    assert customers.by_email(session, " BOB@Example.com ").name == "Bob Chen"
    assert customers.by_email(session, "not an email") is None


def test_cart_totals(session):
    cart = view_cart(session, cid(session, "alice"))
    assert cart.subtotal == Decimal("9.99") * 2 + Decimal("1899.99")
    assert cart.total == cart.subtotal and cart.discount == 0


def test_repair_fixes_stale_price(session):
    chloe = cid(session, "chloe")
    before = view_cart(session, chloe).total
    repair = repair_cart(session, chloe)
    assert [(f.kind, f.title, f.new_price - f.old_price) for f in repair.fixes] == [
        ("repriced", "Powder Canister", Decimal("-10.00"))]
    assert view_cart(session, chloe).total == before - Decimal("10.00")


def test_repair_removes_out_of_stock_and_adds_lost_item(session):
    bob, emma = cid(session, "bob"), cid(session, "emma")
    assert any(f.kind == "removed" for f in repair_cart(session, bob).fixes)
    assert all(line.in_stock for line in view_cart(session, bob).lines)
    fixes = repair_cart(session, emma).fixes
    assert fixes == [CartFix("added", "Chanel Coco Noir Eau De")]
    assert repair_cart(session, emma).fixes == []  # second run: nothing left to fix


def test_healthy_cart_needs_no_repair(session):
    assert repair_cart(session, cid(session, "alice")).fixes == []


@pytest.mark.parametrize(
    ("sender", "code", "reason"),
    [
        ("bob", "NOPE", "unknown"),
        ("bob", "expired15", "expired"),
        ("bob", "BLACKFRIDAY30", "not_started"),
        ("bob", "WELCOME5", "min_order"),
        ("bob", "SUMMER25", "category"),
        ("alice", "FIRST10", "already_used"),
        ("dev", "SPRING10", "no_cart"),
    ],
)
def test_discount_rejections_say_why(session, sender, code, reason):
    result = apply_code(session, cid(session, sender), code)
    assert not result.applied and result.reason == reason


def test_discount_applies_and_is_single_use(session):
    alice = cid(session, "alice")
    result = apply_code(session, alice, "vip20")
    assert result.applied and result.cart.discount_code == "VIP20"
    assert result.cart.discount == (result.cart.subtotal * Decimal("0.2")).quantize(Decimal("0.01"))
    assert session.query(DiscountRedemption).filter_by(code="VIP20").count() == 1
    assert apply_code(session, alice, "VIP20").reason == "already_applied"  # still on the cart
    get_cart(session, alice).discount_code = None  # the order went out with it
    assert apply_code(session, alice, "VIP20").reason == "already_used"


def test_category_code_discounts_only_its_category(session):
    frank = cid(session, "frank")
    result = apply_code(session, frank, "SUMMER25")
    assert result.applied and result.cart.discount == Decimal("22.50")  # 25% of 89.99


def test_payments(session):
    latest = recent_payments(session, cid(session, "chloe"))[0]
    assert latest.status == "declined" and latest.decline_code == "expired_card"
    assert "Klarna" not in methods_for_country(session, "BR")
    assert "Klarna" in methods_for_country(session, "GB")
    pair = find_double_charge(session, cid(session, "frank"))
    assert pair and pair[0].amount == pair[1].amount
    assert find_double_charge(session, cid(session, "alice")) is None


def test_takeover_ticket_lifecycle(session):
    opened = open_ticket(session, "web-1", None, "handoff", "Customer: help", takeover=True)
    t = opened.ticket
    assert opened.created
    again = open_ticket(session, "web-1", None, "handoff", "again", takeover=True)
    assert again.ticket.id == t.id and not again.created
    assert takeover_ticket(session, "web-1").id == t.id
    assert close_ticket(session, t.id).status == "closed"
    assert takeover_ticket(session, "web-1") is None
    assert close_ticket(session, 10**6) is None
    assert session.get(Ticket, t.id).closed_at is not None
