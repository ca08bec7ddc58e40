"""The demo shop's login, and the identity tokens it mints for the chat widget.

This is what a real shop's backend does after its own login (README, "Identity"): it
signs a short-lived identity token (:func:`bot.identity.tokens.mint`) for the logged-in
customer and the conversation it keeps for them, and the page hands it to the widget.

* ``POST /demo/login`` ``{"email", "password"}`` (the demo customers, password
  ``<name>-demo``): sets an HttpOnly, SameSite=Strict cookie holding a signed login (15
  minutes, renewed by each token request) and answers ``{"token", "name", "expires_in"}``;
  401 for a wrong e-mail or password;
* ``POST /demo/identity``: a fresh identity token for the login in the cookie (the page
  calls it before the last one expires and hands it to ``Touchline.setIdentity``); 401
  without a valid login;
* ``POST /demo/logout``: forgets the login and revokes its conversation's identity tokens
  (:func:`bot.store.identity.revoke_sign_in`): an open widget chat is signed out at its
  next message;
* ``POST /demo/phone`` ``{"phone", "pin"}``: registers a phone number (E.164) and a call
  PIN (4 to 8 digits) for the login's customer (:mod:`bot.store.phones`; a call from the
  number is theirs once the PIN is keyed in); 401 without a login, 422 for a malformed
  number or a weak PIN; ``DELETE /demo/phone`` removes it;
* ``POST /demo/telegram-link``: a one-time Telegram deep link for the login's customer
  (``{"url": "https://t.me/<bot>?start=<token>", "expires_in": 600}``, single use, 10
  minutes; :mod:`connectors.telegram_identity` redeems it); 401 without a valid login.

Every route answers 503 while ``$TOUCHLINE_IDENTITY_SECRET`` is empty.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from fastapi import APIRouter, Cookie, HTTPException, Response
from pydantic import BaseModel, constr

from bot.config import settings
from bot.identity.tokens import MAX_LIFETIME_S, IdentityError, IdentityKeys, mint, verify
from bot.store.db import session_scope
from bot.store.identity import (
    TELEGRAM_LINK_LIFETIME,
    authenticate,
    create_telegram_link,
    revoke_sign_in,
)
from bot.store.models import Customer
from bot.store.phones import forget_phone, register_phone

router = APIRouter(prefix="/demo", tags=["demo shop"])

COOKIE = "touchline_demo_login"
"""Name of the demo shop's login cookie."""
LOGIN = "demo-login"
"""``purpose`` of the login cookie's token (never accepted as an identity token)."""


class Credentials(BaseModel):
    """A demo customer's e-mail address and password."""

    email: constr(strip_whitespace=True, min_length=3, max_length=200)  # type: ignore[valid-type]
    password: constr(min_length=1, max_length=200)  # type: ignore[valid-type]


class SignedIn(BaseModel):
    """An identity token for the widget."""

    token: str
    name: str
    expires_in: int
    """Seconds until the token expires."""


class Login(NamedTuple):
    """A demo shop login: the customer and the conversation the shop keeps for them."""

    customer_id: int
    name: str
    conversation_id: str


def _secret() -> str:
    """The identity secret.

    Raises:
        HTTPException: 503 when it is not configured.
    """
    secret = settings().identity_secret
    if len(secret) < 16:
        raise HTTPException(503, "identity tokens are off: set TOUCHLINE_IDENTITY_SECRET "
                                 "(at least 16 characters)")
    return secret


def login_of(cookie: str | None) -> Login | None:
    """The login a cookie holds, ``None`` when there is none or it is invalid or expired.

    Raises:
        HTTPException: 503 when identity tokens are not configured.
    """
    if not cookie:
        return None
    try:
        login = verify(cookie, IdentityKeys(secret=_secret()), purpose=LOGIN)
    except IdentityError:
        return None
    with session_scope() as session:
        customer = session.get(Customer, login.customer_id)
        name = customer.name if customer is not None else None
    return None if name is None else Login(login.customer_id, name, login.conversation_id)


def _login(cookie: str | None) -> Login:
    """The cookie's login.

    Raises:
        HTTPException: 401 not signed in; 503 identity tokens are off.
    """
    current = login_of(cookie)
    if current is None:
        raise HTTPException(401, "not signed in")
    return current


def identity_token(login: Login) -> str:
    """A fresh identity token of ``login`` (``$TOUCHLINE_IDENTITY_TTL_S`` seconds)."""
    return mint(login.customer_id, login.conversation_id, _secret(),
                ttl_s=settings().identity_ttl_s)


def _signed_in(response: Response, login: Login) -> SignedIn:
    """Renew the login cookie and mint the widget's identity token."""
    cookie = mint(login.customer_id, login.conversation_id, _secret(), ttl_s=MAX_LIFETIME_S,
                  purpose=LOGIN)
    response.set_cookie(COOKIE, cookie, max_age=MAX_LIFETIME_S, httponly=True,
                        samesite="strict", path="/")
    return SignedIn(token=identity_token(login), name=login.name,
                    expires_in=settings().identity_ttl_s)


@router.post("/login", response_model=SignedIn)
def login(body: Credentials, response: Response) -> SignedIn:
    """Sign a demo customer in; a new conversation starts for the login.

    Raises:
        HTTPException: 401 wrong e-mail or password; 503 identity tokens are off.
    """
    _secret()
    with session_scope() as session:
        customer = authenticate(session, body.email, body.password)
        found = None if customer is None else (customer.id, customer.name)
    if found is None:
        raise HTTPException(401, "wrong e-mail address or password")
    conversation = f"shop-{uuid.uuid4().hex[:24]}"
    return _signed_in(response, Login(found[0], found[1], conversation))


@router.post("/identity", response_model=SignedIn)
def identity(response: Response, touchline_demo_login: str | None = Cookie(None)) -> SignedIn:
    """A fresh identity token for the signed-in demo customer.

    Raises:
        HTTPException: 401 not signed in (or the login expired); 503 identity tokens are off.
    """
    current = _login(touchline_demo_login)
    return _signed_in(response, current)


@router.post("/logout")
def logout(response: Response, touchline_demo_login: str | None = Cookie(None)) -> dict[str, str]:
    """Forget the demo login and revoke the identity tokens of its conversation (the page
    then calls ``Touchline.logout()``; a chat signed in elsewhere with them is signed out)."""
    current = login_of(touchline_demo_login)
    if current is not None:
        with session_scope() as session:
            revoke_sign_in(session, current.conversation_id)
    response.delete_cookie(COOKIE, path="/")
    return {"status": "signed out"}


class PhoneIn(BaseModel):
    """A phone number to register and the PIN a call from it must key in."""

    phone: constr(strip_whitespace=True, min_length=1, max_length=32)  # type: ignore[valid-type]
    pin: constr(min_length=1, max_length=8)  # type: ignore[valid-type]


@router.post("/phone")
def phone(body: PhoneIn, touchline_demo_login: str | None = Cookie(None)) -> dict[str, str]:
    """Register a phone number and its call PIN for the signed-in customer.

    Returns:
        ``{"phone": the number in E.164}``.

    Raises:
        HTTPException: 401 not signed in; 422 a malformed number or a weak PIN; 503
            identity tokens are off.
    """
    current = _login(touchline_demo_login)
    try:
        with session_scope() as session:
            number = register_phone(session, current.customer_id, body.phone, body.pin)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"phone": number}


@router.delete("/phone")
def unregister_phone(touchline_demo_login: str | None = Cookie(None)) -> dict[str, bool]:
    """Remove the signed-in customer's phone number (``{"removed": bool}``).

    Raises:
        HTTPException: 401 not signed in; 503 identity tokens are off.
    """
    current = _login(touchline_demo_login)
    with session_scope() as session:
        return {"removed": forget_phone(session, current.customer_id)}


class TelegramLinkOut(BaseModel):
    """A one-time Telegram deep link."""

    url: str
    expires_in: int
    """Seconds until the link expires."""


@router.post("/telegram-link", response_model=TelegramLinkOut)
def telegram_link(touchline_demo_login: str | None = Cookie(None)) -> TelegramLinkOut:
    """A deep link that links the customer's Telegram chat to their account
    (``$TELEGRAM_BOT_NAME`` names the bot; ``your_bot`` when unset).

    Raises:
        HTTPException: 401 not signed in; 503 identity tokens are off.
    """
    current = _login(touchline_demo_login)
    with session_scope() as session:
        token = create_telegram_link(session, current.customer_id)
    bot = settings().named("TELEGRAM_BOT_NAME") or "your_bot"
    return TelegramLinkOut(url=f"https://t.me/{bot}?start={token}",
                           expires_in=int(TELEGRAM_LINK_LIFETIME.total_seconds()))
