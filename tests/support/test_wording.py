"""The support flows' wording of what the shop database says (codes and values in, the
customer's sentences out)."""

from decimal import Decimal

from bot.store.carts import CartFix
from bot.support.wording import cart_fix, cart_repaired, explain_decline


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
