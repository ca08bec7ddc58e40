"""Touchline: the library behind the customer-support assistant.

Sub-packages: ``store`` (shop database), ``nlu`` (Rasa graph components),
``dialogue`` (Rasa policies and lock store), ``kicks`` (kick predictor),
``search`` (product search), ``api`` (FastAPI service).
"""
