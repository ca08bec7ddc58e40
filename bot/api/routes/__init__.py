"""One FastAPI router per feature."""
