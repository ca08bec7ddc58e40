"""Telegram account linking.

A customer links a private Telegram chat to their shop account with a one-time deep link
``https://t.me/<bot>?start=<token>`` that the shop's account page mints
(``POST /demo/telegram-link`` on the demo shop, :func:`bot.store.identity.create_telegram_link`:
single use, 10 minutes); Telegram then sends ``/start <token>``.  ``/unlink`` forgets the
link.  Every message of a linked chat is stamped with the customer
(:func:`bot.identity.metadata.stamp`); unlinked chats and groups are anonymous.
"""

from __future__ import annotations

import re

from bot.store.db import session_scope
from bot.store.identity import redeem_telegram_link, telegram_customer, unlink_telegram
from connectors.wording import BAD_LINK, GROUP_LINK, LINKED, NOT_LINKED, UNLINKED

LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
"""Shape of a deep-link token (Telegram allows 64 such characters after ``start=``)."""


def link_command(original: str) -> tuple[str, str] | None:
    """``("start", token)`` for ``/start <token>``, ``("unlink", "")`` for ``/unlink``
    (``@BotName`` allowed after the command), else ``None``."""
    parts = original.strip().split()
    if not parts or not parts[0].startswith("/"):
        return None
    name = parts[0][1:].partition("@")[0].lower()
    if name == "start" and len(parts) == 2 and LINK_TOKEN.fullmatch(parts[1]):
        return "start", parts[1]
    if name == "unlink" and len(parts) == 1:
        return "unlink", ""
    return None


def answer_link_command(command: tuple[str, str], chat_id: int, private: bool) -> str:
    """Carry out a :func:`link_command` (a database transaction; run it in a worker thread).

    Args:
        command: what :func:`link_command` found.
        chat_id: the Telegram chat.
        private: whether the chat is a private one (only those are linked).

    Returns:
        The reply to send.
    """
    name, token = command
    if not private:
        return GROUP_LINK
    with session_scope() as session:
        if name == "unlink":
            return UNLINKED if unlink_telegram(session, chat_id) else NOT_LINKED
        customer = redeem_telegram_link(session, token, chat_id)
        return BAD_LINK if customer is None else LINKED.format(name=customer.name)


def linked_customer(chat_id: int) -> int | None:
    """The customer a chat is linked to (a database read; run it in a worker thread)."""
    with session_scope() as session:
        return telegram_customer(session, chat_id)
