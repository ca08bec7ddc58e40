"""Builders of Telegram ``Update`` JSON as the Bot API delivers it to a webhook."""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from testing.fake_telegram import BOT_ID, USERNAME

_ids = itertools.count(int(time.time() * 1000) % 10**9)
USER = {"id": 4242, "is_bot": False, "first_name": "Ada"}
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Touchline", "username": USERNAME}


def next_id() -> int:
    """A fresh update id (unique within the test run)."""
    return next(_ids)


def chat(chat_id: int) -> dict[str, Any]:
    """Private chat for positive ids, supergroup for negative ones (as Telegram numbers them)."""
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Ada"}
    return {"id": chat_id, "type": "supergroup", "title": "Shop fans"}


def _entities(text: str) -> list[dict[str, Any]]:
    found = []
    command = re.match(r"/\S+", text)
    if command:
        found.append({"type": "bot_command", "offset": 0, "length": command.end()})
    for m in re.finditer(r"@\w+", text):
        if not command or m.start() >= command.end():
            found.append({"type": "mention", "offset": m.start(), "length": m.end() - m.start()})
    return found


def message(chat_id: int, text: str | None = None, *, update_id: int | None = None,
            key: str = "message", user: dict[str, Any] | None = None,
            **content: Any) -> dict[str, Any]:
    """An update carrying a message (``key="edited_message"`` for an edit)."""
    body: dict[str, Any] = {"message_id": next_id() % 100000, "date": int(time.time()),
                            "chat": chat(chat_id), "from": user or USER, **content}
    if text is not None:
        body["text"] = text
        if _entities(text):
            body["entities"] = _entities(text)
    return {"update_id": update_id or next_id(), key: body}


def sticker(chat_id: int) -> dict[str, Any]:
    """A sticker without text."""
    return message(chat_id, sticker={"file_id": "stk", "file_unique_id": "s1", "type": "regular",
                                     "width": 512, "height": 512, "is_animated": False,
                                     "is_video": False})


def photo(chat_id: int, caption: str | None = None) -> dict[str, Any]:
    """A photo, optionally with a caption."""
    extra = {"caption": caption} if caption else {}
    return message(chat_id, photo=[{"file_id": "ph", "file_unique_id": "p1", "width": 90,
                                    "height": 90}], **extra)


def voice(chat_id: int, file_id: str = "vc", *, duration: int = 2, file_size: int | None = None,
          reply_to_bot: bool = False, caption: str | None = None) -> dict[str, Any]:
    """A voice note (``duration`` in seconds, ``file_size`` in bytes), optionally replying to
    one of the bot's messages or with a caption."""
    note: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                            "duration": duration, "mime_type": "audio/ogg"}
    if file_size is not None:
        note["file_size"] = file_size
    extra: dict[str, Any] = {}
    if reply_to_bot:
        extra["reply_to_message"] = _bot_message(chat_id)
    if caption is not None:
        extra["caption"] = caption
        extra["caption_entities"] = _entities(caption)
    return message(chat_id, voice=note, **extra)


def audio_file(chat_id: int) -> dict[str, Any]:
    """A music file (``audio``), which is not a voice note."""
    return message(chat_id, audio={"file_id": "au", "file_unique_id": "a1", "duration": 200,
                                   "mime_type": "audio/mpeg"})


def video_note(chat_id: int) -> dict[str, Any]:
    """A round video message."""
    return message(chat_id, video_note={"file_id": "vn", "file_unique_id": "n1", "length": 240,
                                        "duration": 3})


def members(chat_id: int, joined: bool) -> dict[str, Any]:
    """Someone (the bot itself when joining) added to or leaving a group."""
    if joined:
        return message(chat_id, new_chat_members=[BOT_USER, USER])
    return message(chat_id, left_chat_member=USER)


def _bot_message(chat_id: int) -> dict[str, Any]:
    return {"message_id": 1, "date": int(time.time()), "chat": chat(chat_id),
            "from": BOT_USER, "text": "Is there anything else I can help with?"}


def reply_to_bot(chat_id: int, text: str) -> dict[str, Any]:
    """A group message replying to one of the bot's messages."""
    return message(chat_id, text, reply_to_message=_bot_message(chat_id))


def tap(chat_id: int, data: str, *, update_id: int | None = None) -> dict[str, Any]:
    """A callback query: the user tapped an inline button carrying ``data``."""
    bot_message = {"message_id": 7, "date": int(time.time()), "chat": chat(chat_id),
                   "from": BOT_USER, "text": "Choose:"}
    return {"update_id": update_id or next_id(),
            "callback_query": {"id": f"cq{next_id()}", "from": USER, "chat_instance": "ci",
                               "data": data, "message": bot_message}}
