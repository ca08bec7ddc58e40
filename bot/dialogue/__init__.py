"""Rasa dialogue plumbing: the lock store and the guard policy."""
