"""Send Rasa bot messages (the collector's dicts) to a Telegram chat with a PTB ``Bot``.

=======================================  ==================================================
Rasa message                             Telegram
=======================================  ==================================================
``text``                                 ``sendMessage``, plain text (no ``parse_mode``, so
                                         nothing is read as markup), split into parts of at
                                         most 4096 characters
``text`` + ``buttons``                   the same, with an inline keyboard on the last part;
                                         ``callback_data`` is ``b:<id>`` (18 bytes, the limit
                                         is 64) and the payload is kept in the database
``image``                                ``sendPhoto`` by URL
``custom`` ``{"type": "product_cards"}`` ``sendPhoto`` per product with an ``image`` URL;
                                         the rest as one text list, unless the turn's text
                                         already names them all (the search action sends its
                                         own list, ``bot/search/chat.py``)
``attachment``                           its URL as text
other ``custom`` payloads                not sent (logged)
spoken reply of a voice note             ``sendVoice``, an OGG/Opus upload
                                         (:func:`send_voice`)
=======================================  ==================================================

Limits: https://core.telegram.org/bots/api#sendmessage (text 1-4096 characters, counted
in UTF-16 code units like every Bot API offset), https://core.telegram.org/bots/api#sendphoto
(caption 0-1024), https://core.telegram.org/bots/api#inlinekeyboardbutton (callback_data
1-64 bytes).  A failed API call is logged and the remaining messages are still sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from rasa.core.channels.channel import OutputChannel
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit
from telegram.error import TelegramError

from bot.dialogue.turn import ConversationId
from bot.support.messages import AGENT_KEY, CARDS_TYPE, BotMessage, Button, ProductCard
from connectors.telegram_store import store_buttons
from connectors.wording import CHOOSE, from_agent

logger = logging.getLogger(__name__)

MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)
MAX_CAPTION = int(MessageLimit.CAPTION_LENGTH)
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how Telegram counts characters)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _fit(text: str, limit: int) -> int:
    """Largest ``i`` with ``utf16_len(text[:i]) <= limit``."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into parts Telegram accepts, preferring line and word boundaries.

    Args:
        text: any text.
        limit: most UTF-16 code units per part.

    Returns:
        Non-empty, stripped parts in order (an empty list for blank text).
    """
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        cut = _fit(rest, limit)
        for separator in ("\n", " "):  # a line break in the second half, else a space
            boundary = rest.rfind(separator, 0, cut + 1)
            if boundary > cut // 2:
                cut = boundary
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


async def _keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
    """One button per row; ``url`` buttons open links, the others carry a short id."""
    usable = [b for b in buttons if isinstance(b, dict) and (b.get("url") or b.get("payload"))]
    payloads = [str(b["payload"]) for b in usable if not b.get("url")]
    refs = iter(await asyncio.to_thread(store_buttons, payloads))
    rows = []
    for b in usable:
        title = str(b.get("title") or b.get("payload") or b.get("url"))
        if b.get("url"):
            rows.append([InlineKeyboardButton(title, url=str(b["url"]))])
        else:
            rows.append([InlineKeyboardButton(title, callback_data=next(refs))])
    return InlineKeyboardMarkup(rows) if rows else None


def _card_line(product: ProductCard) -> str:
    price = product.get("price")
    price_text = f" - ${float(price):,.2f}" if isinstance(price, (int, float)) else ""
    stock = "" if "in_stock" not in product else (
        ", in stock" if product["in_stock"] else ", out of stock")
    return f"• {product.get('title', 'Product')}{price_text}{stock}"


async def _call(call: Awaitable[Any], what: str, chat_id: int) -> bool:
    """Await one Bot API call; log and swallow Telegram errors (the rest still goes out)."""
    try:
        await call
    except TelegramError as exc:
        logger.warning("Telegram %s to chat %s failed: %s: %s", what, chat_id,
                       type(exc).__name__, exc.message)
        return False
    return True


async def _send_text(bot: Bot, chat_id: int, text: str,
                     markup: InlineKeyboardMarkup | None = None) -> None:
    parts = split_text(text) or ([CHOOSE] if markup else [])
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        await _call(bot.send_message(chat_id, part, reply_markup=markup if last else None),
                    "sendMessage", chat_id)


async def _send_cards(bot: Bot, chat_id: int, products: list[ProductCard],
                      turn_text: str) -> None:
    listed = []
    for product in products:
        if product.get("image"):
            caption = _card_line(product)[:MAX_CAPTION]
            await _call(bot.send_photo(chat_id, str(product["image"]), caption=caption),
                        "sendPhoto", chat_id)
        else:
            listed.append(product)
    if any(str(p.get("title")) not in turn_text for p in listed):
        await _send_text(bot, chat_id, "\n".join(_card_line(p) for p in listed))


async def send_messages(bot: Bot, chat_id: int, messages: list[BotMessage]) -> None:
    """Send a turn's bot messages to ``chat_id`` (rendering in the module docstring).

    Args:
        bot: a PTB bot (its ``base_url`` may point at a test server).
        chat_id: the Telegram chat.
        messages: Rasa bot messages (:class:`bot.support.messages.BotMessage`), e.g. from
            ``CollectingOutputChannel.messages``.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when button payloads cannot be stored (the message
            with those buttons and the following ones are not sent).
    """
    turn_text = "\n".join(str(m.get("text") or "") for m in messages)
    for message in messages:
        text = str(message.get("text") or "")
        buttons = message.get("buttons") or message.get("quick_replies") or []
        if text or buttons:
            await _send_text(bot, chat_id, text, await _keyboard(buttons) if buttons else None)
        if message.get("image"):
            await _call(bot.send_photo(chat_id, str(message["image"])), "sendPhoto",
                        chat_id)
        if message.get("attachment"):
            await _send_text(bot, chat_id, str(message["attachment"]))
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == CARDS_TYPE:
            # A card's fields are read defensively (_card_line), so any dict will do.
            products = cast("list[ProductCard]",
                            [p for p in custom.get("products") or [] if isinstance(p, dict)])
            await _send_cards(bot, chat_id, products, turn_text)
        elif custom:
            logger.info("custom payload not shown on Telegram: %s", str(custom)[:200])


async def send_voice(bot: Bot, chat_id: int, ogg_opus: bytes, seconds: float) -> bool:
    """Upload a voice message (https://core.telegram.org/bots/api#sendvoice).

    Args:
        bot: a PTB bot.
        chat_id: the Telegram chat.
        ogg_opus: an OGG file with one Opus stream (what Telegram plays as a voice note).
        seconds: its duration in seconds (shown by the client before playing).

    Returns:
        Whether Telegram accepted it; a failure is logged, not raised.
    """
    call = bot.send_voice(chat_id, ogg_opus, duration=max(1, round(seconds)),
                          filename="reply.ogg")
    return await _call(call, "sendVoice", chat_id)


class TelegramOutput(OutputChannel):
    """Rasa output channel that sends straight to Telegram.

    Rasa uses it when its HTTP API is asked for ``output_channel=telegram`` (or ``latest``),
    e.g. ``POST /conversations/telegram:<chat>/tracker/events?execute_side_effects=true``
    with a ``bot`` event: that is how a message from outside a user turn (an agent's reply,
    a reminder) reaches the chat.  Takeover silence does not apply to such messages.
    """

    def __init__(self, bot: Callable[[], Awaitable[Bot]]) -> None:
        """Args: bot: returns the channel's initialised PTB bot."""
        self._bot = bot

    @classmethod
    def name(cls) -> str:
        """Channel name, as the input channel's."""
        return "telegram"

    async def send_response(self, recipient_id: str, message: BotMessage) -> None:
        """Send one Rasa message to the chat behind ``recipient_id`` (``telegram:<chat>``);
        a message a person wrote in the agent inbox starts with their name
        (:func:`connectors.wording.from_agent`)."""
        chat_id = ConversationId.parse(recipient_id).chat_id
        agent = message.get(AGENT_KEY)
        name = agent.get("name") if isinstance(agent, dict) else None
        if isinstance(name, str) and name and message.get("text"):
            message = {**message, "text": from_agent(name[:100], message["text"])}
        await send_messages(await self._bot(), chat_id, [message])

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Send plain text (Rasa's required output-channel method)."""
        await self.send_response(recipient_id, {"text": text})
