"""Support-conversation logic independent of Rasa: wording of replies and summaries."""
