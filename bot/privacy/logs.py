"""Redact every log record of a process, whichever logger or handler it goes to.

The record factory (``logging.setLogRecordFactory``) is the one place every record passes
through when it is made, before any filter, handler or formatter sees it, so records of
Rasa, Sanic, rasa-sdk, uvicorn and our own modules are all covered, including handlers
added later. A record whose formatted message holds nothing to redact is left as it was
(formatters such as uvicorn's access log read ``record.args`` themselves); otherwise its
string arguments are redacted one by one, which keeps their shape, and only when that does
not remove everything is the message stored redacted and without arguments. An
exception's traceback text is formatted and redacted too (the formatter uses
``record.exc_text`` when it is set).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.privacy.redaction import Redactor

_FORMATTER = logging.Formatter()


class _RedactingFactory:
    """A log-record factory that redacts what the previous factory made."""

    def __init__(self, previous: Any, redactor: Redactor) -> None:  # noqa: ANN401
        self.previous = previous
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:  # noqa: ANN401
        record: logging.LogRecord = self.previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 (a bad format string is logging's to report)
            return record
        redacted = self.redactor.text(message)
        if redacted != message:
            _redact_message(record, redacted, self.redactor)
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redactor.text(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return record


def _redact_message(record: logging.LogRecord, redacted: str, redactor: Redactor) -> None:
    """Give ``record`` the message ``redacted``: its arguments redacted one by one when that
    yields it (so formatters that read ``record.args`` keep working), else the text alone."""
    if isinstance(record.args, tuple) and record.args:
        args = tuple(redactor.text(a) if isinstance(a, str) else a for a in record.args)
        try:
            same = (str(record.msg) % args) == redacted
        except (TypeError, ValueError):
            same = False
        if same:
            record.args = args
            return
    record.msg, record.args = redacted, ()


def install_log_redaction(redactor: Redactor) -> None:
    """Redact every log record this process makes from now on (idempotent: installing
    again only changes the redactor).

    Args:
        redactor: what to redact (:func:`bot.privacy.redactor`).
    """
    current = logging.getLogRecordFactory()
    if isinstance(current, _RedactingFactory):
        current.redactor = redactor
    else:
        logging.setLogRecordFactory(_RedactingFactory(current, redactor))
