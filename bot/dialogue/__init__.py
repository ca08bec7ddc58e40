"""Rasa dialogue plumbing: the takeover policy, the windowed SQL tracker store and the
asyncio lock store."""
