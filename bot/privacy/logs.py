"""Redact every log record of a process, whichever logger or handler it goes to.

The record factory (``logging.setLogRecordFactory``) is the one place every record passes
through when it is made, before any filter, handler or formatter sees it, so records of
Rasa, Sanic, rasa-sdk, uvicorn and our own modules are all covered, including handlers
added later. The message is formatted with its arguments, redacted, and stored without
arguments; an exception's traceback text is formatted and redacted too (the formatter
uses ``record.exc_text`` when it is set).
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
        record.msg, record.args = self.redactor.text(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redactor.text(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return record


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
