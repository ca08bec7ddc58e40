"""Read a Telegram ``Update`` into what the channel should do with it.

=====================================  ============================================
Update                                 :class:`Kind`
=====================================  ============================================
``message`` with a voice note          ``VOICE`` (private chats; groups when addressed);
                                       a caption is not read: the speech is the message
``message`` with text or a caption     ``TEXT`` (same rule)
``message`` with other media, no text  ``MEDIA`` (sticker, photo, audio file, video note,
                                       ... same rule)
``callback_query`` (button tap)        ``TAP``
``message`` without content            ``IGNORED`` (members joining/leaving, pins, ...)
``edited_message``, ``channel_post``,  ``IGNORED``: an edit re-sends text already
``my_chat_member``, anything else      answered, and membership changes need no reply
=====================================  ============================================

In a group or supergroup the bot answers only when addressed
(https://core.telegram.org/bots/features#privacy-mode): an ``@BotName`` mention, a reply to
one of the bot's messages, or a command at the start of the message that is bare (``/start``)
or names this bot (``/start@BotName``).  The mention is removed from the text; ``/start``
becomes ``/greet`` (an intent :func:`connectors.sanitize.sanitize_text` allows) and any other
command loses its ``@BotName`` suffix, so the sanitiser decides what it may do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from telegram import Chat, Message, MessageEntity, Update

COMMAND_TEXT = {"start": "/greet"}
"""Bot commands with a fixed meaning, mapped to the text Rasa receives."""


class Kind(Enum):
    """What an update asks of the channel."""

    TEXT = "text"
    VOICE = "voice"
    MEDIA = "media"
    TAP = "tap"
    IGNORED = "ignored"


@dataclass(frozen=True)
class VoiceNote:
    """A voice note as Telegram describes it (https://core.telegram.org/bots/api#voice).

    Attributes:
        file_id: the id to download it with ``getFile``.
        duration: its length in seconds, as the sender's app reported it.
        file_size: its size in bytes; ``None`` when Telegram did not say.
    """

    file_id: str
    duration: int
    file_size: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One update, read.

    Attributes:
        kind: what to do.
        reason: why (``"private"``, ``"mention"``, ``"edited_message"``, ...), for logs.
        chat_id: the chat to answer in (``None`` when ignored).
        text: ``TEXT``: the user's words as Rasa should read them; ``TAP``: the button's
            ``callback_data``; otherwise empty.
        original: ``TEXT`` only: the text or caption as the user sent it.
        callback_query_id: ``TAP`` only: the query to answer.
        voice: ``VOICE`` only: the voice note to download and transcribe.
        metadata: ``{"telegram": {...}}`` ids passed to Rasa with the message.
    """

    kind: Kind
    reason: str
    chat_id: int | None = None
    text: str = ""
    original: str = ""
    callback_query_id: str | None = None
    voice: VoiceNote | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def read_update(update: Update, bot_id: int, bot_username: str | None) -> Inbound:
    """Classify ``update`` (see the module docstring for the table).

    Args:
        update: the parsed webhook body.
        bot_id: the bot's numeric id (the part of the token before ``:``).
        bot_username: the bot's username without ``@``; ``None`` when unknown, then only
            replies to the bot and bare commands address it in groups.

    Returns:
        The :class:`Inbound` describing the update.
    """
    if update.callback_query is not None:
        query = update.callback_query
        chat_id = query.message.chat.id if query.message else query.from_user.id
        return Inbound(Kind.TAP, "callback_query", chat_id, query.data or "",
                       callback_query_id=query.id,
                       metadata=_metadata(update, chat_id, query.from_user.id))
    message = update.message
    if message is None:
        present = [k for k in update.to_dict() if k != "update_id"]
        return Inbound(Kind.IGNORED, present[0] if present else "empty")
    if message.chat.type == Chat.CHANNEL:
        return Inbound(Kind.IGNORED, "channel")
    has_text = bool(message.text or message.caption)
    if not has_text and message.effective_attachment is None:
        return Inbound(Kind.IGNORED, "service message")
    reason = _addressed(message, bot_id, bot_username)
    if reason is None:
        return Inbound(Kind.IGNORED, "group message not addressed to the bot")
    user_id = message.from_user.id if message.from_user else None
    meta = _metadata(update, message.chat.id, user_id, message)
    if message.voice is not None:
        # to_dict() gives the wire value in seconds; the ``duration`` property warns that
        # it will become a timedelta (PTB 22.2+).
        seconds = int(message.voice.to_dict().get("duration") or 0)
        note = VoiceNote(message.voice.file_id, seconds, message.voice.file_size)
        return Inbound(Kind.VOICE, reason, message.chat.id, voice=note, metadata=meta)
    if not has_text:
        return Inbound(Kind.MEDIA, reason, message.chat.id, metadata=meta)
    return Inbound(Kind.TEXT, reason, message.chat.id, _rasa_text(message, bot_username),
                   original=message.text or message.caption or "", metadata=meta)


def _entities(message: Message) -> dict[MessageEntity, str]:
    if message.text:
        return message.parse_entities()
    return message.parse_caption_entities()


def _command(message: Message) -> tuple[str, str | None] | None:
    """``(name, target_bot)`` of a command opening the message, else ``None``."""
    for entity, value in _entities(message).items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            name, _, target = value[1:].partition("@")
            return name.lower(), target or None
    return None


def _addressed(message: Message, bot_id: int, username: str | None) -> str | None:
    """Why the message is for this bot, or ``None`` when it is not."""
    if message.chat.type == Chat.PRIVATE:
        return "private"
    me = f"@{username}".lower() if username else None
    for entity, value in _entities(message).items():
        if entity.type == MessageEntity.MENTION and value.lower() == me:
            return "mention"
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            return "mention"
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return "reply to the bot"
    command = _command(message)
    if command is not None:
        target = command[1]
        if target is None or (username is not None and target.lower() == username.lower()):
            return "command"
    return None


def _rasa_text(message: Message, username: str | None) -> str:
    """The message text with the bot's mention removed and commands normalised."""
    text = message.text or message.caption or ""
    command = _command(message)
    if command is not None:
        name = command[0]
        if name in COMMAND_TEXT:
            return COMMAND_TEXT[name]
        rest = text.split(maxsplit=1)[1:]
        text = " ".join([f"/{name}", *rest])
    if username:
        text = re.sub(rf"\s*@{re.escape(username)}\b", "", text, flags=re.IGNORECASE)
    return text.strip()


def _metadata(update: Update, chat_id: int, user_id: int | None,
              message: Message | None = None) -> dict[str, Any]:
    return {
        "telegram": {
            "update_id": update.update_id,
            "chat_id": chat_id,
            "user_id": user_id,
            "message_id": message.message_id if message else None,
        }
    }
