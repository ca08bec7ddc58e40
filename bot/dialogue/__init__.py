"""Rasa dialogue plumbing: the takeover policy, the windowed SQL tracker store, the asyncio
lock store, and a faster validation of action-server responses.

Importing this package (Rasa does so when it loads any of these from ``config.yml`` or
``endpoints.yml``) installs :mod:`bot.dialogue.action_validation`.
"""

from bot.dialogue.action_validation import install

install()
