"""The messages the bot sends, as types: one definition for the actions that make them and
the channels that show them.

A bot message is a dict in the shape of Rasa 3.6's ``CollectingOutputChannel``
(``rasa/core/channels/channel.py``, ``CollectingOutputChannel._message``): the keys it has
are the parts it carries.  The only custom payload Touchline sends is the product cards of
a search answer (:class:`ProductCards`, made by :mod:`bot.search.chat`); the widget shows
them as cards (``bot/api/static/widget/widget.js``, which gets :data:`CARDS_TYPE` from the
server, :mod:`bot.api.routes.widget`), Telegram as photos or a list, voice skips them.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from typing_extensions import NotRequired, TypedDict

CARDS_TYPE: Final = "product_cards"
"""``custom["type"]`` of a product-cards payload."""
AGENT_KEY: Final = "touchline_agent"
"""Metadata key of a bot event a person wrote in the agent inbox:
``{"id": agents.id, "name": display name}`` (``bot/api/rasa_link.py``); the channels show
the name beside the message (the widget's ``agent`` field)."""


class Button(TypedDict, total=False):
    """A button under a bot message: ``title`` shown, ``payload`` sent back when pressed
    (a slash intent such as ``/affirm``), or ``url`` opened (Telegram)."""

    title: str
    payload: str
    url: str


class ProductCard(TypedDict):
    """One product of a :class:`ProductCards` payload (price in ``currency``, US dollars)."""

    id: int
    title: str
    price: float
    currency: str
    stock: int
    in_stock: bool
    category: str
    brand: str | None
    image: NotRequired[str]
    """URL of a picture (Telegram sends it as a photo); the catalogue has none yet."""
    url: NotRequired[str]
    """URL of the product page (the widget links it)."""


class ProductCards(TypedDict):
    """The custom payload of a product-search answer."""

    type: Literal["product_cards"]
    products: list[ProductCard]


class BotMessage(TypedDict, total=False):
    """One bot message, as Rasa's collector records it and the channels send it on.

    Text and buttons come from responses and ``utter_message(text=..., buttons=...)``;
    ``custom`` from ``utter_message(json_message=...)`` (a :class:`ProductCards`, or any
    JSON object a response defines); ``quick_replies`` only from other Rasa output paths
    (Telegram shows them as buttons).
    """

    recipient_id: str
    text: str
    buttons: list[Button]
    quick_replies: list[Button]
    image: str
    attachment: str
    custom: dict[str, Any]
    agent: str
    """Display name of the person who wrote the message in the agent inbox (the widget
    shows it; absent for the assistant's own messages)."""

