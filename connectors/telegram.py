"""Telegram channel on python-telegram-bot 22: ``POST /webhooks/telegram/webhook``.

Configured in ``credentials.yml`` with the *names* of environment variables (secrets never
live in the file and are never logged)::

    connectors.telegram.TelegramInput:
      token_env: TELEGRAM_TOKEN                  # BotFather token (required)
      secret_token_env: TELEGRAM_SECRET_TOKEN    # webhook secret (required, 1-256 of A-Za-z0-9_-)
      bot_name_env: TELEGRAM_BOT_NAME            # username without @ (else asked with getMe)
      webhook_url_env: TELEGRAM_WEBHOOK_URL      # public https URL; set => setWebhook at start
      base_url_env: TELEGRAM_API_BASE_URL        # Bot API, default https://api.telegram.org/bot
      base_file_url_env: TELEGRAM_API_FILE_URL   # file API, default derived from base_url

Without a token or secret the channel still loads (``make run`` has no Telegram) and its
webhook answers 503 saying what to set.  Each request:

1. 403 unless ``X-Telegram-Bot-Api-Secret-Token`` equals the secret (constant-time compare,
   https://core.telegram.org/bots/api#setwebhook); nothing is read or stored before that.
2. 400 if the body is not an update (Telegram itself always sends one).
3. The update is read (:mod:`connectors.telegram_inbound`) and its ``update_id`` recorded
   with its JSON (:mod:`connectors.telegram_store`); a redelivery is answered 200
   ``duplicate`` and not processed again.  When the database cannot record it the answer
   is a 503, and Telegram sends the update again later.
4. The update is answered 200 at once, so Telegram never redelivers a slow turn; the work
   continues in a background task, and the update's JSON is forgotten once it is answered.
   A server that dies first leaves it pending: every :data:`SWEEP_EVERY_S` each server takes
   on again the updates pending for longer than :data:`STALE_AFTER`
   (:func:`connectors.telegram_store.claim_stale`).  A text's turn carries the update's id
   (:func:`connectors.turn_once.run_turn_once`), so an update whose turn was stored before
   its server died is not run twice: its stored replies are sent (perhaps a second time).

   * text: :func:`connectors.sanitize.sanitize_message`, then Rasa as ``telegram:<chat_id>``
     (groups share one conversation per chat); the turn's messages are collected, passed
     through :func:`bot.dialogue.turn.run_turn` (apology for a silently failed turn,
     silence during a human takeover) and sent (:mod:`connectors.telegram_outbound`);
   * button tap: ``answerCallbackQuery``, then the stored payload goes to Rasa like text;
     an unknown id gets a "no longer available" notice;
   * voice note (at most a minute and 1 MiB): downloaded, transcribed by the shared speech
     engines, the transcript goes to Rasa like text (``metadata["voice"]`` holds it) and the
     answer comes back as text and as a ``sendVoice``; failures get a short text
     (:mod:`connectors.telegram_voice`);
   * other media without text: :data:`MEDIA_REPLY` (nothing during a takeover);
   * edits, membership changes, channel posts, unaddressed group messages: nothing.

At server start the webhook is registered with ``setWebhook`` (URL, secret,
:data:`ALLOWED_UPDATES`) when ``TELEGRAM_WEBHOOK_URL`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import (
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.error import TelegramError

from bot.config import Settings, settings
from bot.dialogue.turn import (
    ConversationId,
    KeyedLock,
    bounded_traceback,
    held_by_person,
    run_turn,
)
from bot.identity.metadata import stamp
from bot.speech.engines import SpeechEngines, shared_engines
from bot.support.messages import BotMessage
from bot.support.wording import APOLOGY
from connectors.sanitize import sanitize_message
from connectors.telegram_identity import answer_link_command, link_command, linked_customer
from connectors.telegram_inbound import Inbound, Kind, read_update
from connectors.telegram_outbound import TelegramOutput, send_messages
from connectors.telegram_store import answered, claim_stale, first_delivery, pending, resolve_button
from connectors.telegram_voice import answer_voice
from connectors.turn_once import NotReady, run_turn_once
from connectors.wording import EXPIRED_BUTTON, MEDIA_REPLY

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
"""Update types requested in ``setWebhook``; edits and membership updates are not needed."""
DEFAULT_ENV = {
    "token_env": "TELEGRAM_TOKEN",
    "secret_token_env": "TELEGRAM_SECRET_TOKEN",
    "bot_name_env": "TELEGRAM_BOT_NAME",
    "webhook_url_env": "TELEGRAM_WEBHOOK_URL",
    "base_url_env": "TELEGRAM_API_BASE_URL",
    "base_file_url_env": "TELEGRAM_API_FILE_URL",
}
"""``credentials.yml`` keys and the environment variables they default to."""
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
SHUTDOWN_WAIT_S = 10.0
"""How long server shutdown waits for turns still being answered."""
STALE_AFTER = timedelta(seconds=60)
"""An update pending this long was left by a server that died (a turn takes seconds; the
action server's own time-out is 30 s) and is taken on again."""
SWEEP_EVERY_S = 5.0
"""How often each server looks for such updates (seconds)."""

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class TelegramSettings:
    """The channel's configuration, read from the environment.

    Attributes:
        token: BotFather token ``<bot id>:<secret>``.
        secret_token: value Telegram must send in :data:`SECRET_HEADER`.
        bot_name: the bot's username without ``@``.
        webhook_url: public URL registered with ``setWebhook`` at start-up.
        base_url, base_file_url: Bot API endpoints (``None``: Telegram's own).
        token_var, secret_var: the variables' names, for messages.
    """

    token: str | None = None
    secret_token: str | None = None
    bot_name: str | None = None
    webhook_url: str | None = None
    base_url: str | None = None
    base_file_url: str | None = None
    token_var: str = DEFAULT_ENV["token_env"]
    secret_var: str = DEFAULT_ENV["secret_token_env"]

    @classmethod
    def from_env(cls, names: Mapping[str, Any] | None = None,
                 config: Settings | None = None) -> TelegramSettings:
        """Read the settings.

        Args:
            names: the ``credentials.yml`` block (``*_env`` keys name variables); missing
                keys use :data:`DEFAULT_ENV`.
            config: where to read the variables (default: :func:`bot.config.settings`).

        Returns:
            The settings; empty variables count as unset.
        """
        var = {key: str((names or {}).get(key) or default) for key, default in DEFAULT_ENV.items()}

        config = config or settings()

        def get(key: str) -> str | None:
            return config.named(var[key])

        base_url = get("base_url_env")
        file_url = get("base_file_url_env")
        if file_url is None and base_url is not None and base_url.endswith("/bot"):
            file_url = base_url[: -len("/bot")] + "/file/bot"
        bot_name = get("bot_name_env")
        return cls(get("token_env"), get("secret_token_env"),
                   bot_name.lstrip("@") if bot_name else None, get("webhook_url_env"),
                   base_url, file_url, var["token_env"], var["secret_token_env"])

    @property
    def problem(self) -> str | None:
        """Why the channel cannot serve (for the 503 body and the log), ``None`` if it can."""
        if not self.token:
            return f"Telegram is not configured: set {self.token_var} (see credentials.yml)"
        if not _TOKEN.fullmatch(self.token):
            return f"{self.token_var} does not look like a BotFather token (<id>:<secret>)"
        if not self.secret_token:
            return f"Telegram webhook secret missing: set {self.secret_var}"
        if not _SECRET.fullmatch(self.secret_token):
            return f"{self.secret_var} must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        return None

    @property
    def bot_id(self) -> int:
        """The bot's numeric id, the token's part before ``:`` (0 without a token)."""
        head = (self.token or "").partition(":")[0]
        return int(head) if head.isdigit() else 0


def _quiet_secret_loggers() -> None:
    """httpx logs request URLs, which hold the token, at INFO; PTB logs its base URL and
    every call's parameters at DEBUG.  Keep both above those levels."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.INFO)


class TelegramInput(InputChannel):
    """Rasa input channel for a Telegram bot, named ``telegram`` (see the module docstring)."""

    def __init__(self, settings: TelegramSettings,
                 speech_engines: Callable[[], SpeechEngines] = shared_engines) -> None:
        """Args:
            settings: the configuration (:meth:`TelegramSettings.from_env`).
            speech_engines: returns the speech engines for voice notes; called in a worker
                thread for each voice note, so it must cache (the default loads once per
                process); may raise, which gets the user a "can't listen now" reply.
        """
        self.settings = settings
        self._speech_engines = speech_engines
        self._bot: Bot | None = None
        self._username = settings.bot_name
        self._tasks: set[asyncio.Task[None]] = set()
        self._chats = KeyedLock()  # one update of a chat at a time
        self._app: Sanic | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    def name(cls) -> str:
        """Channel name; the webhook lives at ``/webhooks/telegram/webhook``."""
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        """Build the channel from its ``credentials.yml`` block (variable names only)."""
        channel = TelegramSettings.from_env(credentials)
        if channel.problem:
            level = logging.WARNING if channel.token else logging.INFO
            logger.log(level, "Telegram channel loaded but inactive: %s", channel.problem)
        return cls(channel)

    def bot(self) -> Bot:
        """The PTB bot, created on first use inside the server's event loop.

        Raises:
            RuntimeError: when the channel is not configured (:attr:`TelegramSettings.problem`).
        """
        if self.settings.problem:
            raise RuntimeError(self.settings.problem)
        if self._bot is None:
            _quiet_secret_loggers()
            kwargs = {k: v for k, v in (("base_url", self.settings.base_url),
                                        ("base_file_url", self.settings.base_file_url)) if v}
            self._bot = Bot(str(self.settings.token), **kwargs)
        return self._bot

    async def _bot_async(self) -> Bot:
        return self.bot()

    def get_output_channel(self) -> OutputChannel | None:
        """:class:`TelegramOutput` for Rasa's HTTP API (``output_channel=telegram``)."""
        return None if self.settings.problem else TelegramOutput(self._bot_async)

    async def username(self) -> str | None:
        """The bot's username: configured, or from ``getMe`` (asked until it succeeds;
        ``None`` meanwhile)."""
        if self._username is None:
            try:
                self._username = (await self.bot().get_me()).username
            except TelegramError as exc:
                logger.warning("getMe failed (%s); group mentions are not recognised",
                               type(exc).__name__)
        return self._username

    async def start(self) -> None:
        """Server start: learn the username and register the webhook when a URL is set.

        Failures are logged, not raised: the server runs and the webhook can be set later.
        """
        if self.settings.problem:
            return
        await self.username()
        if not self.settings.webhook_url:
            return
        try:
            await self.bot().set_webhook(self.settings.webhook_url,
                                         secret_token=self.settings.secret_token,
                                         allowed_updates=ALLOWED_UPDATES)
            logger.info("Telegram webhook registered at %s", self.settings.webhook_url)
        except TelegramError as exc:
            logger.error("setWebhook failed: %s: %s", type(exc).__name__, exc.message)

    async def drain(self, timeout: float = SHUTDOWN_WAIT_S) -> None:
        """Wait up to ``timeout`` seconds for the updates still being answered."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def stop(self) -> None:
        """Server stop: let running turns finish (bounded), then close the HTTP client."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.drain()
        if self._bot is not None:
            await self._bot.shutdown()
            self._bot = None

    def secret_ok(self, given: str | None) -> bool:
        """Constant-time check of the :data:`SECRET_HEADER` value."""
        expected = str(self.settings.secret_token).encode()
        return hmac.compare_digest((given or "").encode(), expected)

    async def accept(self, body: object,
                     on_new_message: OnNewMessage) -> tuple[int, dict[str, str]]:
        """Take on one authenticated webhook body (steps 2-4 of the module docstring).

        Args:
            body: the parsed JSON body.
            on_new_message: Rasa's message handler.

        Returns:
            ``(status, json_body)`` for the HTTP response.
        """
        malformed = 400, {"error": "body must be a Telegram Update object"}
        update_id = body.get("update_id") if isinstance(body, dict) else None
        if not isinstance(update_id, int) or not 0 <= update_id < 2**63:
            return malformed
        try:
            update = Update.de_json(body, self.bot())
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
            return malformed
        try:
            inbound = read_update(update, self.settings.bot_id, await self.username())
            int(inbound.chat_id or 0)  # the chat lock and every reply need a numeric id
        except (AttributeError, TypeError, ValueError, OverflowError):
            # fields Telegram always sends are missing or of the wrong type
            logger.warning("update %s malformed; ignored", update.update_id)
            return malformed
        ignored = inbound.kind is Kind.IGNORED
        try:
            fresh = await asyncio.to_thread(first_delivery, self.settings.bot_id,
                                            update.update_id, None,
                                            None if ignored else json.dumps(body))
        except SQLAlchemyError as exc:  # Telegram sends it again after a failed call
            logger.warning("cannot record update %s (%s); asking Telegram to send it again",
                           update.update_id, type(exc).__name__)
            return 503, {"error": "the update cannot be recorded now; send it again"}
        if not fresh:
            return 200, {"status": "duplicate"}
        if ignored:
            logger.debug("update %s ignored: %s", update.update_id, inbound.reason)
            return 200, {"status": "ignored", "reason": inbound.reason}
        self._start(inbound, on_new_message, update.update_id)
        return 200, {"status": "accepted"}

    def _start(self, inbound: Inbound, on_new_message: OnNewMessage,
               update_id: int | None) -> None:
        task = asyncio.create_task(self.process(inbound, on_new_message, update_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sweep(self, on_new_message: OnNewMessage) -> int:
        """Take on again the updates a server that died left pending (see the module
        docstring); returns how many.  Database errors are logged, not raised."""
        try:
            claimed = await asyncio.to_thread(claim_stale, self.settings.bot_id, STALE_AFTER)
        except SQLAlchemyError as exc:
            logger.warning("cannot look for pending Telegram updates: %s", type(exc).__name__)
            return 0
        username = await self.username()
        for update_id, body in claimed:
            logger.warning("Telegram update %s was left pending; answering it", update_id)
            try:
                update = Update.de_json(json.loads(body), self.bot())
                self._start(read_update(update, self.settings.bot_id, username),
                            on_new_message, update_id)
            except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
                logger.warning("pending update %s unreadable; dropped", update_id)
                await self._answered(update_id)
        return len(claimed)

    async def _sweep_forever(self, on_new_message: OnNewMessage) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep(on_new_message)
            except Exception:  # e.g. getMe failing: try again at the next sweep
                logger.exception("sweeping pending Telegram updates failed")

    async def process(self, inbound: Inbound, on_new_message: OnNewMessage,
                      update_id: int | None = None) -> None:
        """Answer one update that is not ignored; errors are logged, never raised.

        Updates of one chat are answered one at a time in arrival order (a
        :class:`~bot.dialogue.turn.KeyedLock` keyed by the conversation), so replies cannot
        overtake each other.  With ``update_id`` (the update is recorded as pending) an
        update another server answered meanwhile is skipped, a text's turn runs once
        (:func:`connectors.turn_once.run_turn_once`), and the update is marked answered.
        """
        chat = int(inbound.chat_id or 0)
        try:
            async with self._chats.hold(str(ConversationId.telegram(chat))):
                if update_id is not None and not await asyncio.to_thread(
                        pending, self.settings.bot_id, update_id):
                    return  # another server took it on again and answered it
                try:
                    await self._process(inbound, on_new_message, update_id)
                finally:
                    if update_id is not None:
                        await self._answered(update_id)
        except Exception:
            # A failed turn was marked answered above; an update not even read as pending
            # (a database outage) stays pending, and a sweep answers it after STALE_AFTER.
            logger.exception("Telegram update for chat %s failed", chat)

    async def _answered(self, update_id: int) -> None:
        try:
            await asyncio.to_thread(answered, self.settings.bot_id, update_id)
        except SQLAlchemyError as exc:
            logger.warning("update %s answered but not marked (%s); it may be answered again",
                           update_id, type(exc).__name__)

    async def _process(self, inbound: Inbound, on_new_message: OnNewMessage,
                       update_id: int | None) -> None:
        bot, chat_id = self.bot(), int(inbound.chat_id or 0)
        sender = ConversationId.telegram(chat_id)
        command = link_command(inbound.original) if inbound.kind is Kind.TEXT else None
        if command is not None:
            private = chat_id > 0  # Telegram numbers private chats positive, groups negative
            reply = await asyncio.to_thread(answer_link_command, command, chat_id, private)
            await send_messages(bot, chat_id, [{"text": reply}])
            return
        stamp(inbound.metadata, await asyncio.to_thread(linked_customer, chat_id))
        if inbound.kind is Kind.VOICE and inbound.voice is not None:
            await answer_voice(bot, chat_id, inbound.voice, inbound.metadata, on_new_message,
                               self.name(), self._speech_engines)
            return
        if inbound.kind is Kind.MEDIA:
            if not await held_by_person(sender):
                await send_messages(bot, chat_id, [{"text": MEDIA_REPLY}])
            return
        text, original = inbound.text, inbound.original
        if inbound.kind is Kind.TAP:
            try:
                text = original = await asyncio.to_thread(resolve_button, inbound.text) or ""
            except SQLAlchemyError:
                logger.exception("cannot read the payload of a tapped button")
                text = original = ""
            try:
                await bot.answer_callback_query(str(inbound.callback_query_id),
                                                text=None if text else EXPIRED_BUTTON)
            except TelegramError as exc:
                logger.warning("answerCallbackQuery failed: %s", type(exc).__name__)
            if not text:
                return
        # typed: "/start@Bot" became "/greet"; the customer's own words stay visible
        safe, metadata = sanitize_message(text, inbound.metadata, typed=original)
        messages = await self._turn(on_new_message, safe, sender, metadata, update_id)
        await send_messages(bot, chat_id, messages)

    async def _turn(self, on_new_message: OnNewMessage, text: str, sender: ConversationId,
                    metadata: dict[str, Any], update_id: int | None) -> list[BotMessage]:
        """The turn of a text: once per update (:func:`connectors.turn_once.run_turn_once`)
        where the server's agent allows it, else a plain turn; the apology when the lock
        store or the tracker store cannot be reached."""
        if update_id is not None:
            agent = getattr(self._app.ctx, "agent", None) if self._app is not None else None
            try:
                return await run_turn_once(agent, on_new_message, text, str(sender),
                                           self.name(), metadata,
                                           f"telegram-update-{update_id}")
            except NotReady:
                pass  # no shared lock or SQL tracker store: one plain turn
            except Exception as exc:
                logger.error("Telegram update %s not taken\n%s", update_id,
                             bounded_traceback(exc))
                return [{"recipient_id": str(sender), "text": APOLOGY}]
        return await run_turn(on_new_message, text, sender, self.name(), metadata)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Routes ``GET /`` (health) and ``POST /webhook``, plus start/stop listeners."""
        hook = Blueprint("touchline_telegram", __name__)

        @hook.listener("after_server_start")
        async def started(app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
            self._app = app
            await self.start()
            if not self.settings.problem:
                self._sweeper = asyncio.create_task(self._sweep_forever(on_new_message))

        @hook.listener("before_server_stop")
        async def stopping(_app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
            await self.stop()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": not self.settings.problem})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.settings.problem:
                return response.json({"error": self.settings.problem}, status=503)
            if not self.secret_ok(request.headers.get(SECRET_HEADER)):
                return response.json({"error": "forbidden"}, status=403)
            try:
                body = request.json
            except Exception:  # sanic raises on malformed JSON
                body = None
            status, payload = await self.accept(body, on_new_message)
            return response.json(payload, status=status)

        return hook
