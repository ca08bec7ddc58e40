"""Touchline's rasa-sdk custom actions (``rasa run actions --actions actions``).

Each module holds the thin actions of one support flow; the logic lives in ``bot/``.

Importing the package (the action server does, first) installs the redaction of every log
record of the process (:mod:`bot.privacy.logs`).
"""

from bot.privacy import redactor
from bot.privacy.logs import install_log_redaction

install_log_redaction(redactor())
