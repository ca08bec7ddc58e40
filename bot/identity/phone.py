"""Phone callers: a call counts as a customer's only when it comes from a number the
customer registered (:mod:`bot.store.phones`) **and** the caller keys in its PIN.

Caller ID (Twilio's ``From``) can be spoofed, so the number alone never identifies.  Both
functions block on the shop database: call them from a worker thread in async code.
"""

from __future__ import annotations

from bot.config import settings
from bot.store.db import session_scope
from bot.store.phones import check_pin, is_registered


def asks_for_pin(caller: str | None) -> bool:
    """Whether ``caller`` (E.164 caller ID) is a registered number, so the call should
    offer the PIN check."""
    if not caller:
        return False
    with session_scope() as session:
        return is_registered(session, caller)


def customer_of_call(caller: str, pin: str) -> int | None:
    """The customer whose number ``caller`` is and whose PIN ``pin`` is; ``None`` otherwise
    (counted against the number: ``$TOUCHLINE_LOOKUP_ATTEMPTS`` failures an hour, then
    every PIN is refused for the hour)."""
    with session_scope() as session:
        return check_pin(session, caller, pin, settings().lookup_attempts)
