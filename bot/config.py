"""Runtime settings: one frozen :class:`Settings` read once from the environment.

Every setting has a default that works on a fresh clone (SQLite and local files under
``var/``); production overrides them through environment variables. Code asks
:func:`settings` (one object per process, read on first use) or is handed a
:class:`Settings`; nothing else in ``bot``, ``actions`` or ``connectors`` reads
``os.environ`` (except ``connectors/sessions.py`` and ``connectors/pubsub.py`` for now).

The README's "Configuration reference" table is :func:`configuration_table` (checked by
``tests/test_config.py``); ``python -m bot.config`` prints it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""Repository root (the folder holding ``domain.yml``)."""

T = TypeVar("T")


class Variable(NamedTuple):
    """One documented environment variable: a row of the README's configuration table.

    Attributes:
        name: the variable's name.
        default: its default as the README shows it (Markdown).
        meaning: one line of Markdown.
    """

    name: str
    default: str
    meaning: str


def _setting(
    name: str,
    parse: Callable[[str | None], T],
    shown: str,
    meaning: str,
    secret: bool = False,
) -> Any:  # a dataclass field
    """A :class:`Settings` field read from ``$name`` by ``parse`` (given ``None`` when unset).

    Args:
        name: environment variable.
        parse: turns the raw value (``None``: unset) into the setting, default included.
        shown: the default as the README shows it.
        meaning: one line for the README.
        secret: kept out of ``repr`` (so out of logs).
    """
    return field(repr=not secret,
                 metadata={"variable": Variable(name, shown, meaning), "parse": parse})


def _text(default: str) -> Callable[[str | None], str]:
    """Parser: the value as given (an empty value is kept), else ``default``."""
    return lambda raw: default if raw is None else raw


def _text_or_none(raw: str | None) -> str | None:
    """Parser: the value, ``None`` when unset or empty."""
    return raw or None


def _path_or_none(raw: str | None) -> Path | None:
    """Parser: the value as a path, ``None`` when unset or empty."""
    return Path(raw) if raw else None


def _switch(raw: str | None) -> bool:
    """Parser: on for ``1``, ``true``, ``yes`` or ``on`` (any case), off when unset or empty.

    Raises:
        ValueError: any other value.
    """
    value = (raw or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{raw!r} is not one of true/false, yes/no, on/off, 1/0")


def _retention_days(raw: str | None) -> int:
    """Parser: a whole number of days, at least 1; 90 when unset or empty.

    Raises:
        ValueError: not a whole number, or below 1 (0 would delete every conversation).
    """
    days = int(raw or 90)
    if days < 1:
        raise ValueError(f"{days} is below 1 day")
    return days


E164 = re.compile(r"\+[1-9][0-9]{6,14}")
"""A phone number in E.164 form: ``+``, country code and number, 7 to 15 digits (ITU-T E.164)."""


def _e164_or_none(raw: str | None) -> str | None:
    """Parser: an E.164 phone number (``+441632960961``), ``None`` when unset or empty.

    Raises:
        ValueError: anything else (spaces, no ``+``, too short or long).
    """
    value = (raw or "").strip()
    if not value:
        return None
    if not E164.fullmatch(value):
        raise ValueError(f"{raw!r} is not an E.164 number such as +441632960961")
    return value


VOICE_PIPELINES = ("speculative", "sequential")
"""Values of ``$TOUCHLINE_VOICE_PIPELINE``, the default first."""


ASR_WINDOW_S = 10.0
"""Default seconds of Whisper's window in the ``speculative`` pipeline (measured in
``bot/speech/asr.py``, :class:`~bot.speech.asr.WhisperRecognizer`)."""


def _window(raw: str | None) -> float:
    """Parser of ``$TOUCHLINE_ASR_WINDOW_S``: seconds, :data:`ASR_WINDOW_S` when unset or
    empty.

    Raises:
        ValueError: not a number, or outside 10 to 30 (Whisper's encoder reads at most
            30 s; on shorter windows tiny.en loses words, see ``bot/speech/asr.py``).
    """
    value = float(raw or ASR_WINDOW_S)
    if not 10 <= value <= 30:
        raise ValueError(f"{raw!r} is not between 10 and 30 seconds")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[str | None], str]:
    """Parser: one of ``choices`` (any case), the first when unset or empty.

    Raises:
        ValueError: any other value.
    """
    def parse(raw: str | None) -> str:
        value = (raw or choices[0]).strip().lower()
        if value not in choices:
            raise ValueError(f"{raw!r} is not one of {', '.join(choices)}")
        return value
    return parse


def _lower_or(default: str) -> Callable[[str | None], str]:
    """Parser: an engine name, lower-cased; ``default`` when unset or empty."""
    return lambda raw: (raw or default).lower()


@dataclass(frozen=True)
class Settings:
    """Touchline's configuration, one field per environment variable (see the README's
    configuration reference, generated from these fields).

    Build it with :meth:`from_env`; read the process's own through :func:`settings`.
    """

    database_url: str | None = _setting(
        "DATABASE_URL", _text_or_none, "`sqlite:///var/shop.db`",
        "shop database, any SQLAlchemy URL (PostgreSQL in production)", secret=True)
    """``None``: the SQLite file ``shop.db`` in :attr:`var_dir` (see :func:`database_url`)."""
    var_dir: Path = _setting(
        "TOUCHLINE_VAR", lambda raw: Path(PROJECT_ROOT / "var" if raw is None else raw),
        "`var/`", "local state: SQLite files, indexes, models, secrets")
    rasa_port: str = _setting(
        "RASA_PORT", _text("5005"), "5005",
        "port of the Rasa server (`make run`; the widget page's default Rasa URL uses it)")
    action_port: int = _setting(
        "ACTION_PORT", lambda raw: int("5055" if raw is None else raw), "5055",
        "port of the action server (`make run` writes it into `var/endpoints.yml`)")
    tracker_db: str = _setting(
        "TRACKER_DB", _text("var/tracker.db"), "`var/tracker.db`",
        "Rasa's SQL tracker store (conversations)")
    training_root: Path = _setting(
        "TOUCHLINE_TRAINING_ROOT", lambda raw: Path(PROJECT_ROOT if raw is None else raw),
        "the checkout", "project whose `domain.yml` and `data/` the staff pages extend")
    agent_token: str = _setting(
        "TOUCHLINE_AGENT_TOKEN", _text(""), "random, in `var/secrets.env`",
        "bearer token of `/tickets` (agents); empty: the agent API answers 503", secret=True)
    rasa_auth_token: str = _setting(
        "RASA_AUTH_TOKEN", _text(""), "random, in `var/secrets.env`",
        "token of Rasa's HTTP API (`?token=`); the agent inbox sends agents' messages "
        "through it", secret=True)
    rasa_url: str = _setting(
        "TOUCHLINE_RASA_URL", lambda raw: (raw or "").rstrip("/"),
        "`http://127.0.0.1:$RASA_PORT`",
        "where the Touchline API reaches the Rasa server (agent inbox replies)")
    """Empty: the local Rasa server on :attr:`rasa_port` (see :meth:`rasa_base_url`)."""
    rasa_urls: tuple[str, ...] = _setting(
        "TOUCHLINE_RASA_URLS",
        lambda raw: tuple(u.rstrip("/") for u in (raw or "").replace(",", " ").split()),
        "`$TOUCHLINE_RASA_URL`",
        "every Rasa server a staff deploy loads the new model into, one at a time "
        "(space- or comma-separated); the first refusal rolls the others back")
    """Empty: the one server of :meth:`rasa_base_url` (see :meth:`deploy_urls`)."""
    opening_hours: str = _setting(
        "TOUCHLINE_OPENING_HOURS", _text("Mon-Fri 09:00-17:00"), "`Mon-Fri 09:00-17:00`",
        "when the support team works (`<days> HH:MM-HH:MM` groups separated by `;`); a "
        "handoff while no agent is online tells the customer the next opening")
    timezone: str = _setting(
        "TOUCHLINE_TIMEZONE", _text("UTC"), "`UTC`",
        "IANA time zone of the opening hours, e.g. `Europe/London`")
    rasa_public_url: str = _setting(
        "TOUCHLINE_RASA_PUBLIC_URL", lambda raw: (raw or "").rstrip("/"),
        "`http://<page host>:$RASA_PORT`", "where browsers reach the Rasa server (widget)")
    action_timeout_s: float = _setting(
        "TOUCHLINE_ACTION_TIMEOUT_S", lambda raw: float("8" if raw is None else raw), "8",
        "time budget of one custom action (seconds)")
    turn_slots: int = _setting(
        "TOUCHLINE_TURN_SLOTS", lambda raw: int(raw or 4), "4",
        "turns one Rasa process works on at once (0: no limit); the rest wait in arrival order")
    """Rasa runs NLU and policies on its event loop, so many turns in flight only interleave:
    each waits behind every other turn's steps and the slowest see the longest queues.  A
    few slots keep the action-server round trips overlapping while the queue stays first
    come, first served (measured in ``bench/turn_latency.py``; used by
    ``bot/dialogue/turn.py``)."""
    widget_history_turns: int = _setting(
        "TOUCHLINE_WIDGET_HISTORY_TURNS", lambda raw: max(int(raw or 50), 1), "50",
        "turns a resumed widget shows, and per \"Show earlier messages\"")
    embedding_model: str | None = _setting(
        "TOUCHLINE_EMBEDDING_MODEL", _text_or_none, "packaged all-MiniLM-L6-v2",
        "sentence-transformers model name or path of product search")
    kicks_models: Path | None = _setting(
        "TOUCHLINE_KICKS_MODELS", lambda raw: None if raw is None else Path(raw),
        "`var/models/kicks/`", "folder of the trained kick models")
    """``None``: ``models/kicks`` in :attr:`var_dir`."""
    voice_silence_s: float | None = _setting(
        "TOUCHLINE_VOICE_SILENCE_S", lambda raw: float(raw) if raw else None,
        "8 (`silence_s` in `credentials.yml`)",
        "caller silence before the re-prompt, and again before goodbye (seconds)")
    agent_phone: str | None = _setting(
        "TOUCHLINE_AGENT_PHONE", _e164_or_none, "unset (callers are called back)",
        "E.164 number a phone caller asking for a person is transferred to (TwiML `<Dial>`) "
        "while an agent is online; needs `TWILIO_ACCOUNT_SID` and `TWILIO_AUTH_TOKEN`")
    twilio_account_sid: str | None = _setting(
        "TWILIO_ACCOUNT_SID", _text_or_none, "unset",
        "Twilio account (`AC...`) whose REST API redirects a live call to the agent number")
    twilio_api_url: str = _setting(
        "TWILIO_API_BASE_URL", lambda raw: (raw or "https://api.twilio.com").rstrip("/"),
        "`https://api.twilio.com`", "Twilio's REST API (a test server)")
    voice_on_demand: bool = _setting(
        "TOUCHLINE_VOICE_ON_DEMAND", _switch, "off",
        "load the speech engines at the first call or recording instead of at server "
        "start, and prepare no reply openings ahead (that caller waits a few seconds): "
        "for a Rasa server that takes no calls")
    """At start the voice channel loads Whisper (two copies), Piper and Silero VAD (240 MiB
    more resident memory, measured 2026-12-07) and synthesises the reply openings (a few
    seconds of CPU)."""
    asr_engine: str = _setting(
        "TOUCHLINE_ASR_ENGINE", _lower_or("whisper"), "whisper",
        "speech recognition engine: `whisper` or `pocketsphinx`")
    asr_model_dir: Path | None = _setting(
        "TOUCHLINE_ASR_MODEL_DIR", _path_or_none, "pinned tiny.en",
        "folder of CTranslate2 Whisper weights")
    tts_engine: str = _setting(
        "TOUCHLINE_TTS_ENGINE", _lower_or("piper"), "piper",
        "speech synthesis engine: `piper` or `espeak`")
    tts_voice: Path | None = _setting(
        "TOUCHLINE_TTS_VOICE", _path_or_none, "pinned joe voice", "Piper voice (`.onnx`)")
    espeak_voice: str = _setting(
        "TOUCHLINE_ESPEAK_VOICE", lambda raw: raw or "en-us", "en-us", "espeak-ng voice")
    voice_pipeline: str = _setting(
        "TOUCHLINE_VOICE_PIPELINE", _one_of(VOICE_PIPELINES), "speculative",
        "phone-call turns: `speculative` (early transcript through NLU and policies while "
        "the caller pauses, adaptive end of turn, recogniser pool) or `sequential` (the "
        "former path: fixed 0.35 s silence, one recogniser)")
    asr_workers: int = _setting(
        "TOUCHLINE_ASR_WORKERS", lambda raw: max(int(raw or 2), 1), "2",
        "recogniser workers sharing one Whisper model, final transcripts first, the CPUs "
        "shared out between them (1 or 2 threads each; a transcription that starts alone "
        "runs on a second copy with 2 threads; the `sequential` pipeline uses one worker "
        "of 2)")
    asr_window_s: float = _setting(
        "TOUCHLINE_ASR_WINDOW_S", _window, f"{ASR_WINDOW_S:g}",
        "seconds of audio Whisper's encoder reads per utterance (10 to 30; the utterance "
        "padded with silence; 30: faster-whisper's own 30 s window, which the `sequential` "
        "pipeline keeps)")
    identity_secret: str = _setting(
        "TOUCHLINE_IDENTITY_SECRET", _text(""), "random, in `var/secrets.env`",
        "HS256 key the shop signs customer identity tokens with (widget, REST); empty and "
        "no public key: every chat is anonymous", secret=True)
    identity_public_key: Path | None = _setting(
        "TOUCHLINE_IDENTITY_PUBLIC_KEY", _path_or_none, "unset",
        "PEM file of the shop's public key: identity tokens signed with EdDSA or RS256 "
        "are accepted too (Rasa then needs no secret)")
    identity_ttl_s: int = _setting(
        "TOUCHLINE_IDENTITY_TTL_S", lambda raw: min(max(int(raw or 600), 60), 900), "600",
        "lifetime of the identity tokens the demo shop mints (seconds, 60 to 900); a token "
        "living longer than 900 s is refused")
    lookup_attempts: int = _setting(
        "TOUCHLINE_LOOKUP_ATTEMPTS", lambda raw: max(int(raw or 5), 1), "5",
        "failed anonymous order look-ups allowed per hour, per conversation, per order "
        "number and per e-mail address")
    redact_emails: bool = _setting(
        "TOUCHLINE_REDACT_EMAILS", _switch, "off",
        "also replace e-mail addresses by `[e-mail]` in stored conversations, logs and tickets "
        "(see [Personal data](#personal-data))")
    redact_phones: bool = _setting(
        "TOUCHLINE_REDACT_PHONES", _switch, "off",
        "also replace phone numbers by `[phone number]` there")
    retention_days: int = _setting(
        "TOUCHLINE_RETENTION_DAYS", _retention_days, "90",
        "conversations idle longer, and tickets closed longer, are deleted (days; "
        "`python -m bot.privacy.retention`, daily with `make run`)")
    redis_url: str | None = _setting(
        "REDIS_URL", _text_or_none, "unset",
        "Redis carrying widget messages between Rasa processes (else UNIX sockets between the "
        "workers of one host) and, in the production profile, the conversation locks",
        secret=True)
    rabbitmq_url: str | None = _setting(
        "RABBITMQ_URL", _text_or_none, "unset (no event broker)",
        "RabbitMQ (`amqp://user:password@host:5672/vhost`) receiving every conversation event "
        "(production profile, see [Deployment](#deployment-production-profile))", secret=True)
    event_queue: str = _setting(
        "TOUCHLINE_EVENT_QUEUE", lambda raw: raw or "touchline_events", "`touchline_events`",
        "RabbitMQ queue (and `<queue>.exchange` fanout exchange) of the conversation events")
    db_pool_size: int = _setting(
        "TOUCHLINE_DB_POOL", lambda raw: int(raw or 5), "5",
        "PostgreSQL connections each process keeps open (shop database and tracker store; as "
        "many again may open under bursts)")
    model_url: str | None = _setting(
        "TOUCHLINE_MODEL_URL", _text_or_none, "unset (`--model` file)",
        "model server URL each Rasa server loads its model from at start (`models.url`, ETag)")
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}),
                                       repr=False, compare=False)
    """The environment as read, for the variables ``credentials.yml`` names
    (:data:`CHANNEL_VARIABLES`); see :meth:`named`."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting.

        Args:
            environ: where to read (default: ``os.environ``, copied).

        Returns:
            The settings.

        Raises:
            ValueError: a number that does not parse, naming the variable
                (``TOUCHLINE_ACTION_TIMEOUT_S=abc``).
        """
        env = dict(os.environ if environ is None else environ)
        values = {}
        for f in fields(cls):
            if "variable" in f.metadata:
                name = f.metadata["variable"].name
                try:
                    values[f.name] = f.metadata["parse"](env.get(name))
                except ValueError as exc:
                    raise ValueError(f"${name} is not valid: {exc}") from None
        return cls(**values, environ=MappingProxyType(env))

    def rasa_base_url(self) -> str:
        """Where this process reaches the Rasa server: :attr:`rasa_url`, else
        ``http://127.0.0.1:<rasa_port>``."""
        return self.rasa_url or f"http://127.0.0.1:{self.rasa_port}"

    def deploy_urls(self) -> list[str]:
        """The Rasa servers a staff deploy loads a model into: :attr:`rasa_urls`, else
        :meth:`rasa_base_url` alone."""
        return list(self.rasa_urls) or [self.rasa_base_url()]

    def named(self, name: str) -> str | None:
        """The value of the variable called ``name`` (a channel's ``*_env`` key in
        ``credentials.yml``), stripped; ``None`` when unset or blank."""
        return self.environ.get(name, "").strip() or None


CHANNEL_VARIABLES = (
    Variable("TELEGRAM_TOKEN", "unset (channel inactive)", "Telegram bot token (BotFather)"),
    Variable("TELEGRAM_SECRET_TOKEN", "unset", "Telegram webhook secret"),
    Variable("TELEGRAM_WEBHOOK_URL", "unset", "public webhook URL registered at start"),
    Variable("TELEGRAM_BOT_NAME", "from `getMe`", "bot username without `@`"),
    Variable("TELEGRAM_API_BASE_URL", "Telegram's", "a self-hosted Bot API server"),
    Variable("TELEGRAM_API_FILE_URL", "from `TELEGRAM_API_BASE_URL`",
             "its file URL (voice note downloads)"),
    Variable("TOUCHLINE_VOICE_PUBLIC_URL", "unset (phone calls refused)",
             "public base URL of the Rasa server put in the TwiML stream URL (and signed by "
             "Twilio)"),
    Variable("TWILIO_AUTH_TOKEN", "unset (phone calls refused)",
             "checks `X-Twilio-Signature` on `/webhooks/voice/twiml`; with "
             "`TWILIO_ACCOUNT_SID`, authenticates call transfers"),
)
"""Variables whose names ``credentials.yml`` gives (``*_env`` keys; these are the defaults),
read with :meth:`Settings.named` by the Telegram and voice channels."""

DIRECT_VARIABLES = (
    Variable("TOUCHLINE_SESSION_SECRET", "random per Rasa server",
             "signs widget sessions, signed-in widget resume tokens and phone-call stream "
             "tokens (each with its own purpose)"),
)
"""Read by ``connectors/sessions.py`` itself for now (``connectors/pubsub.py`` also reads
``REDIS_URL`` itself)."""

LAUNCH_VARIABLES = (
    Variable("HOST", "`127.0.0.1`",
             "where `make run` listens (the Rasa server and the API; the action server "
             "stays on 127.0.0.1)"),
    Variable("API_PORT", "8000", "port of the Touchline API (`make run`)"),
    Variable("CORS_ORIGINS", "`http://localhost:$API_PORT`",
             "origins allowed to call Rasa from a browser (`make run`)"),
    Variable("SANIC_WORKERS", "2 with `make run`, else 1",
             "Rasa server processes (Rasa's own variable); see "
             "[Scaling](#scaling-several-rasa-processes)"),
    Variable("RASA_TELEMETRY_ENABLED", "`false` with `make run` and the test stack",
             "Rasa's usage telemetry (Rasa's own variable); `true` turns it on, see "
             "[Personal data](#personal-data)"),
)
"""Read by ``make run``, the ``Procfile`` or Rasa itself, not by Touchline's Python code."""


@cache
def settings() -> Settings:
    """This process's settings, read from the environment on the first call.

    Tests that change the environment call ``settings.cache_clear()`` (the ``setenv``
    fixture of ``tests/conftest.py``).
    """
    return Settings.from_env()


def var_dir() -> Path:
    """Folder for local state (database, indexes), ``$TOUCHLINE_VAR`` or ``<root>/var``.

    Returns:
        The folder, created if missing.
    """
    path = settings().var_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """SQLAlchemy URL of the shop database: ``$DATABASE_URL`` or ``sqlite:///var/shop.db``."""
    return settings().database_url or f"sqlite:///{var_dir() / 'shop.db'}"


def documented_variables() -> list[Variable]:
    """Every variable of the configuration reference, in table order."""
    own = [f.metadata["variable"] for f in fields(Settings) if "variable" in f.metadata]
    return [*own, *CHANNEL_VARIABLES, *DIRECT_VARIABLES, *LAUNCH_VARIABLES]


def configuration_table() -> str:
    """The README's configuration reference as a Markdown table (header included)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in documented_variables()]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(configuration_table(), end="")
