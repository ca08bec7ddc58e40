"""Personal data: redaction before storage and logging, retention, erasure.

* :mod:`bot.privacy.redaction`: the pure text redaction (cards, security codes, IBANs,
  optionally e-mail addresses and phone numbers).
* :mod:`bot.privacy.logs`: a log-record factory that redacts every record of a process.
* :mod:`bot.privacy.conversations`: the conversation store (Rasa's ``events`` table).
* :mod:`bot.privacy.retention`: deletes conversations and closed tickets past their age.
* :mod:`bot.privacy.forget`: erases one customer (right to erasure).
"""

from __future__ import annotations

from bot.config import Settings, settings
from bot.privacy.redaction import Redactor


def redactor(config: Settings | None = None) -> Redactor:
    """The redactor the settings ask for (``TOUCHLINE_REDACT_EMAILS``,
    ``TOUCHLINE_REDACT_PHONES``).

    Args:
        config: settings to read (default: this process's, :func:`bot.config.settings`).
    """
    config = config or settings()
    return Redactor(emails=config.redact_emails, phones=config.redact_phones)
