"""A small fake Telegram Bot API (on 127.0.0.1 unless told otherwise) that records every call.

Point a PTB ``Bot`` at it with ``base_url=fake.base_url`` and
``base_file_url=fake.base_file_url``.  PTB posts form-encoded fields (``multipart/form-data``
when uploading), so recorded parameters are strings (an uploaded file is
``"<file NAME>"`` there and its bytes are in :attr:`Call.files`); JSON bodies are accepted
too.  Answers getMe, sendMessage, sendPhoto, sendVoice, sendChatAction, answerCallbackQuery,
setWebhook, deleteWebhook and getFile; anything else is a 404 like Telegram's.
``fail[method] = (status, description)`` makes a method fail.

Files: :meth:`FakeBotApi.add_file` registers bytes under a ``file_id``; ``getFile`` then
answers with a ``file_path`` and ``GET /file/bot<token>/<file_path>`` serves the bytes
(recorded in :attr:`FakeBotApi.downloads`), as https://core.telegram.org/bots/api#getfile
describes.  An unknown ``file_id`` gets Telegram's 400 "invalid file_id";
``fail["file"] = (status, description)`` makes downloads fail.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:TEST-token_for-the-fake-bot-api"
BOT_ID = 123456789
USERNAME = "TouchlineTestBot"


@dataclass
class Call:
    """One recorded Bot API call."""

    method: str
    params: dict[str, Any]
    token: str
    files: dict[str, bytes] = field(default_factory=dict)
    """Uploaded files of a multipart request: field name -> content."""

    def markup(self) -> dict[str, Any]:
        """The decoded ``reply_markup`` (``{}`` without one)."""
        raw = self.params.get("reply_markup")
        return json.loads(raw) if isinstance(raw, str) else (raw or {})


@dataclass
class FakeBotApi:
    """The fake server; :meth:`start` runs it in a thread with its own event loop."""

    calls: list[Call] = field(default_factory=list)
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    """Registered files: ``file_id`` -> content (see :meth:`add_file`)."""
    downloads: list[str] = field(default_factory=list)
    """``file_path`` of every file download, in order."""
    host: str = "127.0.0.1"
    """Address to listen on (a network namespace's gateway where servers run as hosts)."""
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    _next_message_id: int = 1000

    @property
    def base_url(self) -> str:
        """Value for ``Bot(base_url=...)``."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``Bot(base_file_url=...)``."""
        return f"http://{self.host}:{self.port}/file/bot"

    def add_file(self, file_id: str, content: bytes) -> str:
        """Serve ``content`` as the file ``file_id``; returns its ``file_path``."""
        with self._lock:
            self.files[file_id] = content
        return self._file_path(file_id)

    @staticmethod
    def _file_path(file_id: str) -> str:
        return f"voice/{file_id}.oga"

    def start(self) -> FakeBotApi:
        """Start serving; returns once the port is bound."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/bot{token}/{method}", self._handle)
            app.router.add_get("/file/bot{token}/{path:.+}", self._download)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, 0)
            self._loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def close(self) -> None:
        """Stop the server and its thread."""
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Recorded calls, optionally only one method and/or one chat."""
        with self._lock:
            calls = list(self.calls)
        return [c for c in calls if (method is None or c.method == method)
                and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    def texts(self, chat_id: int) -> list[str]:
        """Texts sent to ``chat_id`` with sendMessage, in order."""
        return [str(c.params["text"]) for c in self.sent("sendMessage", chat_id)]

    def wait_for(self, check: Callable[[], Any], timeout: float = 60) -> Any:  # noqa: ANN401
        """Poll ``check()`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.1)
        raise AssertionError(f"timed out; calls so far: {[c.method for c in self.sent()]}")

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        if request.content_type == "application/json":
            return dict(await request.json()), {}
        form = await request.post()
        params = {k: v if isinstance(v, str) else f"<file {v.filename}>" for k, v in form.items()}
        files = {k: v.file.read() for k, v in form.items() if isinstance(v, web.FileField)}
        return params, files

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any] | None:
        file_id = str(params.get("file_id", ""))
        with self._lock:
            content = self.files.get(file_id)
        if content is None:
            return None
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                "file_size": len(content), "file_path": self._file_path(file_id)}

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        with self._lock:
            self.downloads.append(path)
            found = [c for f, c in self.files.items() if self._file_path(f) == path]
        if "file" in self.fail:
            status, description = self.fail["file"]
            return web.json_response({"ok": False, "error_code": status,
                                      "description": description}, status=status)
        if not found:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found"}, status=404)
        return web.Response(body=found[0], content_type="audio/ogg")

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        with self._lock:
            self._next_message_id += 1
            message_id = self._next_message_id
        chat_id = int(params.get("chat_id", 0))
        return {"message_id": message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Touchline",
                         "username": USERNAME}, **content}

    async def _handle(self, request: web.Request) -> web.Response:
        method, token = request.match_info["method"], request.match_info["token"]
        params, files = await self._params(request)
        with self._lock:
            self.calls.append(Call(method, params, token, files))
        if method in self.fail:
            status, description = self.fail[method]
            return web.json_response({"ok": False, "error_code": status,
                                      "description": description}, status=status)
        if method == "getFile" and self._get_file(params) is None:
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: invalid file_id"},
                                     status=400)
        results: dict[str, Callable[[], Any]] = {
            "getMe": lambda: {"id": BOT_ID, "is_bot": True, "first_name": "Touchline",
                              "username": USERNAME},
            "sendMessage": lambda: self._message(params, text=params.get("text", "")),
            "sendPhoto": lambda: self._message(params, photo=[
                {"file_id": "photo-1", "file_unique_id": "p1", "width": 1, "height": 1}]),
            "sendVoice": lambda: self._message(params, voice={
                "file_id": "voice-1", "file_unique_id": "vr1",
                "duration": int(params.get("duration", 1))}),
            "sendChatAction": lambda: True,
            "answerCallbackQuery": lambda: True,
            "setWebhook": lambda: True,
            "deleteWebhook": lambda: True,
            "getFile": lambda: self._get_file(params),
        }
        if method not in results:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": results[method]()})
