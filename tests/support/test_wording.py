"""The support flows' wording of what the shop database says (codes and values in, the
customer's sentences out)."""

from decimal import Decimal

from bot.store.carts import CartFix
from bot.support.summary import double_charge_summary
from bot.support.wording import (
    FORM_HINTS,
    SPOKEN_OPENINGS,
    cart_fix,
    cart_repaired,
    double_charge_reply,
    explain_decline,
    form_hint,
    phone_handoff_reply,
    two_charges,
)


def test_every_cart_fix_is_worded_as_before():
    fixes = [
        CartFix("added", "Chanel Coco Noir Eau De"),
        CartFix("removed", "Apple Watch"),
        CartFix("repriced", "Powder Canister", Decimal("24.99"), Decimal("1014.99")),
    ]
    assert [cart_fix(f) for f in fixes] == [
        "added the missing Chanel Coco Noir Eau De",
        "removed Apple Watch, which is out of stock",
        "corrected the price of Powder Canister from $24.99 to $1014.99",
    ]
    assert cart_repaired(fixes[:2]) == (
        "I found the problem and fixed it: I added the missing Chanel Coco Noir Eau De; "
        "removed Apple Watch, which is out of stock."
    )


def test_decline_codes_in_plain_words():
    assert "expired" in explain_decline("expired_card")
    assert "3-D Secure" in explain_decline("authentication_failed")
    assert explain_decline("no_such_code") == explain_decline(None) == (
        "the payment was declined by the payment provider."
    )


def test_form_hints_name_what_the_answer_was_or_say_nothing_was_seen():
    assert form_hint("order_id", "e-mail address") == (
        "That looks like an e-mail address, not an order number. "
        "It's TL followed by five digits, for example TL-10042."
    )
    assert form_hint("discount_code", None) == (
        "I couldn't see a discount code in that. Please type the code as it is written on "
        'your voucher, or say "stop" to leave it.'
    )


def test_double_charge_wording():
    found = two_charges(Decimal("1234.5"), "TL-10042")
    assert found == "I can see two charges of $1,234.50 for order TL-10042. "
    assert double_charge_reply(found, 7, created=True) == (
        "I can see two charges of $1,234.50 for order TL-10042. I've opened ticket #7 so our "
        "payments team can refund the duplicate; they reply within one business day."
    )
    assert double_charge_summary(Decimal("5"), "TL-1", "user: hi") == (
        "Duplicate charge: two payments of $5.00 for order TL-1.\nuser: hi"
    )


def test_the_spoken_openings_open_the_replies_they_are_prepared_for():
    """A phone call prepares these sentences at start (``SPOKEN_OPENINGS``): the replies
    must still begin with them, whatever the ticket or slot."""
    replies = [phone_handoff_reply(7, True), phone_handoff_reply(7, False),
               *(form_hint(slot, None) for slot in FORM_HINTS)]
    opened = {next(o for o in SPOKEN_OPENINGS if r.startswith(o + " ")) for r in replies}
    assert opened == set(SPOKEN_OPENINGS)
