"""The Touchline HTTP API service (FastAPI): kicks, search, tickets and the web widget."""
