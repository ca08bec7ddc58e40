"""An agent's message for a phone call, with two Sanic workers (``SANIC_WORKERS=2``).

A simulated Twilio call (``testing/twilio_caller.py``) holds its Media Stream on one
worker; the agent's message is posted to Rasa's events API (``output_channel=voice``, as
the agent inbox sends it, :mod:`bot.api.rasa_link`) over a connection the *other* worker
holds, and the caller must hear it exactly once: forwarded over the workers' pub/sub
(``connectors/pubsub.py``: UNIX stream sockets, and Redis as in the production profile) to
the worker holding the stream (``bot/dialogue/call_messages.py``). Posted to the holder
itself, it is spoken there; after the caller hung up, it is stored only, with one warning.
Which worker holds a connection is read from the kernel's socket table
(``tests/e2e/test_workers.py``).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.api.rasa_link import agent_event, output_channel
from bot.speech.engines import SpeechEngines
from testing.stack import Stack, free_port, stack_env
from testing.twilio_caller import TwilioCaller
from tests.e2e.test_voice import (
    AGENT_SAYS,
    SECRET,
    TWILIO_TOKEN,
    agent_events,
    assert_says,
    caller,
    heard,
    reply_sent,
)
from tests.e2e.test_workers import rest_connection, worker_of, workers
from tests.redis_server import redis_url

pytestmark = pytest.mark.slow

SPOKEN = "agent message spoken on the call"
"""What ``connectors/voice_output.py`` logs each time a worker speaks an agent's message."""


def start_voice_workers(work: Path, model: Path, **env: str) -> Stack:
    """Rasa with the voice channel on two workers (a long silence timeout, so no re-prompt
    is spoken meanwhile), once both have loaded the speech engines."""
    port = free_port()
    settings = stack_env(work, SANIC_WORKERS="2", TOUCHLINE_SESSION_SECRET=SECRET,
                         TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
                         TOUCHLINE_VOICE_PUBLIC_URL=f"http://127.0.0.1:{port}",
                         TOUCHLINE_VOICE_SILENCE_S="300", TOUCHLINE_VOICE_ON_DEMAND="0",
                         **env)
    if "REDIS_URL" not in env:
        settings.pop("REDIS_URL", None)
    stack = Stack(work, model, settings, rasa_port=port).start()
    deadline = time.monotonic() + 300
    while stack.log("rasa").read_text().count("voice: whisper recognizer") < 2:
        if time.monotonic() > deadline:
            stack.close()
            raise AssertionError("the speech engines did not load on both workers")
        time.sleep(0.5)
    return stack


@pytest.fixture(scope="module")
def voice_workers(model, tmp_path_factory) -> Iterator[Stack]:
    """Two workers sharing emits over UNIX stream sockets (no ``REDIS_URL``)."""
    work = tmp_path_factory.mktemp("voice-workers")
    stack = start_voice_workers(work, model)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def redis_voice_workers(model, tmp_path_factory) -> Iterator[Stack]:
    """Two workers sharing emits through a Redis server (``REDIS_URL``), as the Rasa
    servers of the production profile do."""
    work = tmp_path_factory.mktemp("voice-workers-redis")
    with redis_url(work) as url:
        stack = start_voice_workers(work, model, REDIS_URL=url)
        try:
            yield stack
        finally:
            stack.close()


def stream_worker(stack: Stack, c: TwilioCaller, timeout: float = 30) -> int:
    """Pid of the worker holding the call's Media Stream WebSocket."""
    port = c._ws.local_address[1]
    deadline = time.monotonic() + timeout
    while (pid := worker_of(stack, port)) is None:
        assert time.monotonic() < deadline, "the stream's worker was not found"
        time.sleep(0.1)
    return pid


def connection_on(stack: Stack, wanted: int, timeout: float = 120
                  ) -> http.client.HTTPConnection:
    """A keep-alive HTTP connection to the Rasa server that worker ``wanted`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"no connection landed on worker {wanted}"
        conn, port = rest_connection(stack)
        if worker_of(stack, port) == wanted:
            return conn
        conn.close()


def post_agent_message(stack: Stack, conn: http.client.HTTPConnection, sender: str,
                       text: str) -> int:
    """Send an agent's message into ``sender`` over ``conn`` as the agent inbox does
    (:mod:`bot.api.rasa_link`); returns the HTTP status."""
    query = urlencode({"output_channel": output_channel(sender),
                       "execute_side_effects": "true", "token": stack.token})
    conn.request("POST", f"/conversations/{sender}/tracker/events?{query}",
                 json.dumps([agent_event(text, 7, "Dana")]),
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, body
    return response.status


def other_worker(stack: Stack, pid: int) -> int:
    """The pid of the worker that is not ``pid``."""
    [other] = [w.pid for w in workers(stack) if w.pid != pid]
    return other


async def agent_message_heard(stack: Stack, engines: SpeechEngines, call_sid: str,
                              on_holder: bool) -> tuple[TwilioCaller, float, int]:
    """Call, wait for the greeting, post the agent's message to the worker holding the
    stream (``on_holder``) or to the other one, wait for its last sentence's mark and a
    quiet second after it.  Returns the call, when the message was posted, and the pid of
    the worker the message was posted to."""
    async with caller(stack, call_sid) as c:
        await reply_sent(c, stack, engines, 0)
        holder = await asyncio.to_thread(stream_worker, stack, c)
        target = holder if on_holder else await asyncio.to_thread(other_worker, stack, holder)
        conn = await asyncio.to_thread(connection_on, stack, target)
        sent = time.perf_counter()
        await asyncio.to_thread(post_agent_message, stack, conn, f"voice:{call_sid}",
                                AGENT_SAYS)
        conn.close()
        sentences = len(list(engines.synthesizer.speak(AGENT_SAYS)))
        await c.wait_marks(sentences, after=sent)
        await c.wait_quiet(gap=3.0)  # a second copy would start within this
        assert holder == await asyncio.to_thread(stream_worker, stack, c)
        return c, sent, target


def assert_heard_once(c: TwilioCaller, engines: SpeechEngines, sent: float) -> None:
    """The caller got the agent's message, whole and once: one mark per sentence, as much
    audio as one rendering of it (a second copy would double it), and no word twice."""
    pieces = list(engines.synthesizer.speak(AGENT_SAYS))
    assert len(c.events("mark", after=sent)) == len(pieces)
    audio = c.audio(after=sent)
    once = sum(piece.seconds for piece in pieces)
    assert 0.8 * once < audio.seconds < 1.3 * once, (audio.seconds, once)
    assert_says(engines, audio, AGENT_SAYS)
    words = heard(engines, audio)
    assert all(words.count(w) == 1 for w in set(words) if len(w) > 5), words


def test_an_agents_message_posted_to_the_other_worker_is_spoken_once_on_the_call(
        voice_workers, engines):
    before = voice_workers.log("rasa").read_text().count(SPOKEN)
    c, sent, _ = asyncio.run(agent_message_heard(voice_workers, engines, "CAacross", False))
    assert_heard_once(c, engines, sent)
    log = voice_workers.log("rasa").read_text()
    assert log.count(SPOKEN) == before + 1
    assert "voice:CAacross: no live call stream" not in log
    [stored] = agent_events(voice_workers, "voice:CAacross")
    assert stored["text"] == AGENT_SAYS


def test_an_agents_message_posted_to_the_other_worker_is_spoken_once_through_redis(
        redis_voice_workers, engines):
    stack = redis_voice_workers
    c, sent, _ = asyncio.run(agent_message_heard(stack, engines, "CAredis", False))
    assert_heard_once(c, engines, sent)
    log = stack.log("rasa").read_text()
    assert log.count(SPOKEN) == 1 and "no live call stream" not in log


def test_an_agents_message_posted_to_the_worker_holding_the_call_is_spoken_there_once(
        voice_workers, engines):
    before = voice_workers.log("rasa").read_text().count(SPOKEN)
    c, sent, _ = asyncio.run(agent_message_heard(voice_workers, engines, "CAhere", True))
    assert_heard_once(c, engines, sent)
    assert voice_workers.log("rasa").read_text().count(SPOKEN) == before + 1


def test_an_agents_message_after_the_hang_up_is_stored_with_one_warning(voice_workers,
                                                                       engines):
    async def call() -> int:
        async with caller(voice_workers, "CAhungup") as c:
            await reply_sent(c, voice_workers, engines, 0)
            holder = await asyncio.to_thread(stream_worker, voice_workers, c)
            await c.hang_up()
            await asyncio.wait_for(c.closed.wait(), 10)
            return holder

    holder = asyncio.run(call())
    for target in (other_worker(voice_workers, holder), holder):
        conn = connection_on(voice_workers, target)
        post_agent_message(voice_workers, conn, "voice:CAhungup", AGENT_SAYS)
        conn.close()
    assert [e["text"] for e in agent_events(voice_workers, "voice:CAhungup")] == [
        AGENT_SAYS, AGENT_SAYS]
    log = voice_workers.log("rasa").read_text()
    # One warning per message, from the worker that took the request; none from the other.
    assert log.count("voice:CAhungup: no live call stream in any Rasa process") == 2
    assert "socket.io offer not answered" not in log
