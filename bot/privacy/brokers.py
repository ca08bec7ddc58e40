"""An event broker wrapper that publishes redacted events."""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.broker import EventBroker

from bot.privacy.redaction import Redactor


class RedactingEventBroker(EventBroker):
    """Publishes through another broker (Kafka, Pika, SQL...) what that broker would carry,
    with every string in the event redacted (:meth:`Redactor.value`)."""

    def __init__(self, broker: EventBroker, redactor: Redactor) -> None:
        """Args:
            broker: the configured broker (``event_broker`` in ``endpoints.yml``).
            redactor: what to redact.
        """
        self.broker = broker
        self.redactor = redactor

    def publish(self, event: dict[str, Any], **kwargs: Any) -> None:  # noqa: ANN401
        """Publish a redacted copy of ``event`` (the original is not changed); keyword
        arguments (Pika's and Kafka's ``headers``) go to the wrapped broker as they are."""
        self.broker.publish(self.redactor.value(event), **kwargs)

    def is_ready(self) -> bool:
        """Whether the wrapped broker is ready."""
        return bool(self.broker.is_ready())

    async def close(self) -> None:
        """Close the wrapped broker."""
        await self.broker.close()
