"""Rasa dialogue plumbing: the takeover policy, the windowed SQL tracker store, the asyncio
lock store, a faster validation of action-server responses and a faster graph runner.

Importing this package changes nothing in Rasa: the Rasa server process installs
:mod:`bot.dialogue.action_validation` and :mod:`bot.dialogue.graph_runner` explicitly
(:func:`bot.runtime.rasa_server.install`).
"""
