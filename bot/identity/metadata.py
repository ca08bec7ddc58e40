"""The verified customer a channel writes into a user message's metadata.

Only a channel writes :data:`VERIFIED_CUSTOMER`, after checking an identity token
(:mod:`bot.identity.tokens`); it always calls :func:`stamp`, which first removes whatever a
client put under that key.  Actions read it back from the conversation's latest user
message with :func:`verified_customer` and trust nothing else (not a slot, not the sender
id, not an e-mail or order number typed in the chat).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

VERIFIED_CUSTOMER = "touchline_verified_customer_id"
"""Metadata key of the customer id the channel verified."""


def stamp(metadata: dict[str, Any], customer_id: int | None) -> dict[str, Any]:
    """Write the channel's verdict into ``metadata`` (in place), over any client value.

    Args:
        metadata: the user message's metadata.
        customer_id: the verified customer, ``None`` for an anonymous sender.

    Returns:
        ``metadata``.
    """
    metadata.pop(VERIFIED_CUSTOMER, None)
    if customer_id is not None:
        metadata[VERIFIED_CUSTOMER] = int(customer_id)
    return metadata


def verified_customer(events: Iterable[Mapping[str, Any]]) -> int | None:
    """The customer id a channel verified for the latest user message among ``events``.

    Args:
        events: a conversation's events, oldest first (rasa-sdk's ``tracker.events``).

    Returns:
        The id, or ``None`` when the latest user message was anonymous (or there is none).
    """
    for event in reversed(list(events)):
        if event.get("event") == "user":
            value = (event.get("metadata") or {}).get(VERIFIED_CUSTOMER)
            is_id = isinstance(value, int) and not isinstance(value, bool)
            return value if is_id else None
    return None
