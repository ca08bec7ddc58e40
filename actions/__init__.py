"""Touchline's rasa-sdk custom actions (``rasa run actions --actions actions``).

Each module holds the thin actions of one support flow; the logic lives in ``bot/``.
"""
