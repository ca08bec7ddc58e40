"""Rasa dialogue plumbing: the takeover policy, the windowed SQL tracker store, the asyncio
lock store, a faster validation of action-server responses and a faster graph runner.

Importing this package (Rasa does so when it loads any of these from ``config.yml`` or
``endpoints.yml``) installs :mod:`bot.dialogue.action_validation` and
:mod:`bot.dialogue.graph_runner`.
"""

from bot.dialogue import action_validation, graph_runner

action_validation.install()
graph_runner.install()
