"""Identity on every channel, against real servers.

The widget's socket.io channel with identity tokens the shop signed (the real socket.io
protocol, :mod:`testing.sio_client`), REST with and without a customer token, an
anonymous visitor's order look-up, and phone calls on a server without
``$TWILIO_AUTH_TOKEN``.  The stack's identity secret is :data:`testing.stack.IDENTITY_SECRET`
and :meth:`testing.stack.Stack.customer_token` mints tokens as a shop's backend does.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.identity.metadata import VERIFIED_CUSTOMER
from bot.store import customers
from bot.store.db import session_scope
from bot.store.identity import revoke_sign_in
from testing.sio_client import Tab, run
from testing.stack import Stack, texts

pytestmark = pytest.mark.slow

SIGN_IN = "sign in to your account"
BOB_CART = "Eyeshadow Palette with Mirror"
"""In bob's cart only (bot/store/seed.py)."""


def customer_id(stack: Stack, name: str) -> int:
    with session_scope(stack.env["DATABASE_URL"]) as session:
        return customers.by_sender(session, name).id


async def say(tab: Tab, text: str, **extra: object) -> str:
    """Send one widget message; the bot's texts of the turn (emitted before the ack)."""
    before = tab.count("bot_uttered")
    ack = await tab.ack(await tab.request("user_uttered", {"message": text, **extra}))
    assert ack["status"] == "ok", ack
    said = [data for event, data in tab.events if event == "bot_uttered"][before:]
    return "\n".join(m.get("text") or "" for m in said)


async def refused(tab: Tab) -> str:
    """The reason of the ``identity_refused`` event; the server then closes the socket."""
    reason = (await tab.next("identity_refused"))["reason"]
    await tab.next("disconnect", timeout=5)
    assert tab.count("session_confirm") == 0
    await tab.ws.close()
    return reason


def test_a_signed_in_customer_talks_in_the_tokens_conversation(stack):
    async def main() -> tuple[dict, str]:
        tab, confirm = await Tab.open(
            stack, {"identity": stack.customer_token("bob", "idn-bob-conv")})
        reply = await say(tab, "my cart is broken")
        await tab.ws.close()
        return confirm, reply

    confirm, reply = run(main())
    assert confirm["session_id"] == "idn-bob-conv" and confirm["customer"] is True
    assert BOB_CART in reply
    [user] = [e for e in stack.tracker("idn-bob-conv")["events"] if e["event"] == "user"]
    assert user["metadata"][VERIFIED_CUSTOMER] == customer_id(stack, "bob")


def test_a_token_for_one_customer_does_not_open_another_customers_conversation(stack):
    """alice's token with bob's conversation id named by the client: alice gets the
    token's conversation, never bob's (nor his history); over REST a token for another
    conversation than the sender is refused."""
    stack.say("idn-bob-2", "my cart is broken", customer="bob")

    async def main() -> tuple[dict, dict]:
        tab, as_alice = await Tab.open(stack, {
            "identity": stack.customer_token("alice", "idn-alice-2"),
            "session_id": "idn-bob-2", "token": "0" * 64})
        await tab.ws.close()
        tab, anonymous = await Tab.open(stack, {"session_id": "idn-bob-2", "token": "0" * 64})
        await tab.ws.close()
        return as_alice, anonymous

    as_alice, anonymous = run(main())
    assert as_alice["session_id"] == "idn-alice-2" and as_alice["history"] == []
    assert anonymous["session_id"] != "idn-bob-2" and anonymous["resumed"] is False
    r = httpx.post(f"{stack.url}/webhooks/rest/webhook", json={
        "sender": "idn-bob-2", "message": "my cart is broken",
        "metadata": {"customer_token": stack.customer_token("alice", "idn-alice-2")}})
    assert r.status_code == 401 and "another conversation" in r.json()["error"]


def test_a_tampered_token_is_refused(stack):
    token = stack.customer_token("bob", "idn-tamper")
    header, payload, signature = token.split(".")
    forged_payload = stack.customer_token("alice", "idn-tamper").split(".")[1]

    async def main() -> list[str]:
        reasons = []
        for bad in (f"{header}.{payload}.{signature[::-1]}",
                    f"{header}.{forged_payload}.{signature}"):
            tab = await Tab.connect(stack)
            await tab.emit("session_request", {"identity": bad})
            reasons.append(await refused(tab))
        return reasons

    assert run(main()) == ["invalid", "invalid"]
    r = httpx.post(f"{stack.url}/webhooks/rest/webhook", json={
        "sender": "idn-tamper", "message": "hi",
        "metadata": {"customer_token": f"{header}.{forged_payload}.{signature}"}})
    assert r.status_code == 401


def test_a_replayed_token_is_refused_on_a_new_connection(stack):
    token = stack.customer_token("bob", "idn-replay")

    async def main() -> tuple[str, str]:
        first, confirm = await Tab.open(stack, {"identity": token})
        second = await Tab.connect(stack)
        await second.emit("session_request", {"identity": token})
        reason = await refused(second)
        # the first tab reconnects with the resume token it was given, not the identity
        await first.ws.close()
        again, resumed = await Tab.open(stack, {"resume": confirm["resume"]})
        assert resumed["session_id"] == "idn-replay" and resumed["customer"] is True
        reply = await say(again, "my cart is broken")
        await again.ws.close()
        return reason, reply

    reason, reply = run(main())
    assert reason == "replayed" and BOB_CART in reply


def anonymous_turn(stack: Stack, session_id: str) -> dict:
    """The one user event of ``session_id``, checked to be anonymous."""
    [user] = [e for e in stack.tracker(session_id)["events"] if e["event"] == "user"]
    assert VERIFIED_CUSTOMER not in (user.get("metadata") or {})
    return user


def test_an_expired_sign_in_carries_on_as_a_guest(stack):
    """At expiry the socket is moved to a new anonymous session and told so; the next
    message is anonymous (the bot asks to sign in), and the resume token is refused."""
    token = stack.customer_token("bob", "idn-expire", ttl_s=3)

    async def main() -> tuple[str, float, dict, dict, str, str]:
        tab, confirm = await Tab.open(stack, {"identity": token})
        reply = await say(tab, "my cart is broken")
        ended = await tab.next("identity_expired", timeout=20)
        expired_at = time.time()
        guest = await tab.next("session_confirm")
        after = await say(tab, "my cart is broken")
        await tab.ws.close()
        await asyncio.sleep(max(confirm["expires_at"] + 6 - time.time(), 0))
        late = await Tab.connect(stack)
        await late.emit("session_request", {"resume": confirm["resume"]})
        return (reply, expired_at - confirm["expires_at"], ended, guest, after,
                await refused(late))

    reply, late_by, ended, guest, after, reason = run(main())
    assert BOB_CART in reply and -1 < late_by < 3 and ended == {"reason": "expired"}
    assert guest["resumed"] is False and guest["session_id"] != "idn-expire"
    assert "customer" not in guest and guest["history"] == []
    assert SIGN_IN in after and BOB_CART not in after and reason == "expired"
    anonymous_turn(stack, guest["session_id"])
    users = [e for e in stack.tracker("idn-expire")["events"] if e["event"] == "user"]
    assert len(users) == 1


def test_a_sign_in_the_shop_revokes_mid_chat_makes_the_next_message_anonymous(stack):
    """The shop's logout (:func:`bot.store.identity.revoke_sign_in`) ends an open chat's
    sign-in at its next message, which is answered as a guest's; the resume token, a
    refresh with an earlier token and a REST message with one are refused."""
    earlier = stack.customer_token("bob", "idn-revoke")
    token = stack.customer_token("bob", "idn-revoke")

    async def main() -> tuple[str, str, dict, dict, dict, str]:
        tab, confirm = await Tab.open(stack, {"identity": token})
        before = await say(tab, "my cart is broken")
        with session_scope(stack.env["DATABASE_URL"]) as session:
            revoke_sign_in(session, "idn-revoke")
        after = await say(tab, "my cart is broken")
        ended = await tab.next("identity_expired")
        guest = await tab.next("session_confirm")
        refresh = await tab.ack(await tab.request("identity_refresh", {"identity": earlier}))
        await tab.ws.close()
        late = await Tab.connect(stack)
        await late.emit("session_request", {"resume": confirm["resume"]})
        return before, after, ended, guest, refresh, await refused(late)

    before, after, ended, guest, refresh, reason = run(main())
    assert BOB_CART in before
    assert SIGN_IN in after and BOB_CART not in after and ended == {"reason": "revoked"}
    assert guest["resumed"] is False and guest["session_id"] != "idn-revoke"
    assert refresh["status"] == "refused" and reason == "revoked"
    anonymous_turn(stack, guest["session_id"])
    r = httpx.post(f"{stack.url}/webhooks/rest/webhook", json={
        "sender": "idn-revoke", "message": "my cart is broken",
        "metadata": {"customer_token": earlier}})
    assert r.status_code == 401 and "revoked" in r.json()["error"]


def test_malformed_and_oversized_identity_and_resume_tokens_are_refused(stack):
    """Hostile tokens (not strings, not JWTs, 100 kB) get ``identity_refused`` and the
    channel carries on serving a well-formed sign-in."""
    junk: list[object] = [{"alg": "none"}, 12345, [token_part := "a.b.c"], "",
                          "x" * 100_000, token_part, "eyJhbGciOiJub25lIn0.e30."]

    async def main() -> tuple[list[str], str]:
        reasons = []
        for bad in junk:
            for kind in ("identity", "resume"):
                tab = await Tab.connect(stack)
                await tab.emit("session_request", {kind: bad})
                reasons.append(await refused(tab))
        tab, _ = await Tab.open(stack, {"identity": stack.customer_token("bob", "idn-junk")})
        reply = await say(tab, "my cart is broken")
        await tab.ws.close()
        return reasons, reply

    reasons, reply = run(main())
    assert set(reasons) == {"invalid"} and len(reasons) == 2 * len(junk)
    assert BOB_CART in reply


def test_a_refreshed_identity_keeps_the_chat_open(stack):
    async def main() -> tuple[dict, dict, str]:
        tab, _ = await Tab.open(
            stack, {"identity": stack.customer_token("bob", "idn-refresh", ttl_s=3)})
        other = await tab.ack(await tab.request("identity_refresh", {
            "identity": stack.customer_token("alice", "idn-refresh")}))
        ok = await tab.ack(await tab.request("identity_refresh", {
            "identity": stack.customer_token("bob", "idn-refresh")}))
        await asyncio.sleep(5)
        reply = await say(tab, "my cart is broken")
        assert tab.count("identity_expired") == 0
        await tab.ws.close()
        return other, ok, reply

    other, ok, reply = run(main())
    assert other == {"status": "refused", "reason": "other"}
    assert ok["status"] == "ok" and ok["expires_at"] > time.time() + 500
    assert BOB_CART in reply


def test_client_metadata_claiming_a_customer_is_ignored(stack):
    claim = {VERIFIED_CUSTOMER: customer_id(stack, "bob")}
    r = httpx.post(f"{stack.url}/webhooks/rest/webhook", json={
        "sender": "idn-claim", "message": "my cart is broken", "metadata": claim}, timeout=60)
    assert r.status_code == 200 and SIGN_IN in texts(r.json())
    assert BOB_CART not in texts(r.json())

    async def main() -> str:
        tab, _ = await Tab.open(stack, {})
        reply = await say(tab, "my cart is broken", metadata=claim)
        await tab.ws.close()
        return reply

    reply = run(main())
    assert SIGN_IN in reply and BOB_CART not in reply


def test_an_anonymous_visitor_asking_for_a_cart_is_told_to_sign_in(stack):
    """Also when the sender id is a demo customer's short name, or after typing their
    e-mail address and order number."""
    reply = texts(stack.say("bob", "my cart is broken"))
    assert SIGN_IN in reply and BOB_CART not in reply
    stack.say("idn-typed", "where is my order TL-10003")
    stack.say("idn-typed", "bob@example.com")
    for text in ("my cart is broken", "I want to use code SUMMER25", "my payment failed"):
        reply = texts(stack.say("idn-typed", text))
        assert SIGN_IN in reply and BOB_CART not in reply and "Done!" not in reply
    assert BOB_CART in texts(stack.say("idn-rest-bob", "my cart is broken", customer="bob"))


def test_an_order_number_with_the_wrong_e_mail_tells_nothing(stack):
    assert "order number" in texts(stack.say("idn-guest", "where is my order?"))
    assert "e-mail address" in texts(stack.say("idn-guest", "TL-10003"))
    reply = texts(stack.say("idn-guest", "alice@example.com"))
    assert "couldn't find an order TL-10003 with that e-mail" in reply
    assert "UPS" not in reply and "delayed" not in reply
    stack.say("idn-guest2", "where is my order TL-10003")
    reply = texts(stack.say("idn-guest2", "it's BOB@example.com"))
    assert "TL-10003 is delayed with UPS" in reply
    assert stack.tracker("idn-guest2")["slots"]["customer_id"] is None


def test_an_unsigned_call_is_refused_without_a_twilio_auth_token(stack):
    r = httpx.post(f"{stack.url}/webhooks/voice/twiml",
                   data={"CallSid": "CAunsigned", "From": "+15550123"})
    assert r.status_code == 503 and "token" not in r.text.lower().replace("auth", "")
    assert "TWILIO_AUTH_TOKEN is not set" in stack.log("rasa").read_text()
