"""Rehearsals: a custom action run on a speculative turn's copy of the conversation, so a
phone call learns the reply (and synthesises its opening) before the turn is committed.

The action runs again, for real, when the turn is committed, so only actions that read and
never write may be rehearsed (:data:`READ_ONLY_ACTIONS`): running one twice changes
nothing.  The copy's user message carries :data:`REHEARSAL_KEY` in its metadata; the action
server answers a rehearsal of any other action with nothing and touches nothing
(:class:`actions.base.ShopAction`), also when a follow-up passes a read-only action's
message on to another topic's action.  Every channel drops the key from what clients send
(:func:`connectors.sanitize.sanitize_message`), so no real message is a rehearsal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REHEARSAL_KEY = "touchline_rehearsal"
"""Metadata key of a rehearsal's user message (value ``True``)."""

READ_ONLY_ACTIONS = frozenset({"action_product_search", "action_kick_prediction"})
"""Custom actions that only read (the catalogue, the search index, the kick model) and
return slots: the ones a speculative turn may rehearse.  Order status is not one (a failed
lookup is counted against the caller), nor payments (a double charge opens a ticket)."""


def rehearsal_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` marked as a rehearsal's (a new dict; ``metadata`` is not changed)."""
    return {**metadata, REHEARSAL_KEY: True}


def is_rehearsal(events: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the latest user message among ``events`` is a rehearsal's.

    Args:
        events: a conversation's events, oldest first (rasa-sdk's ``tracker.events``).

    Returns:
        ``True`` only when that message's metadata has :data:`REHEARSAL_KEY` set to ``True``.
    """
    for event in reversed(list(events)):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return isinstance(metadata, Mapping) and metadata.get(REHEARSAL_KEY) is True
    return False
