"""An agent's message for a phone call reaches the one Rasa process holding the call.

Three "processes" (each a widget channel with its own :class:`LocalPubSubManager`, UNIX
stream sockets in a private folder, and its own :class:`CallMessages` hub) run in one
event loop; the voice channel's output (:class:`CallOutput`) delivers through one of them.
The speakers stand in for the voice channel's live calls (``LIVE_CALLS``); the pub/sub,
the hubs, the widget channel's forwarding and the output channel are the real ones.  The
two-worker Rasa server with a real call is ``tests/e2e/test_voice_workers.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from socketio import AsyncServer

from bot.dialogue.call_messages import CallMessage, CallMessages
from connectors.pubsub import LocalPubSubManager, private_folder
from connectors.socketio import SocketIOInput
from connectors.voice_output import CallOutput

CALL = "voice:CAforwarded"
SAID = {"text": "Hello, this is Dana from the support team."}


@pytest.fixture(autouse=True)
def _session_secret(env) -> Iterator[None]:  # noqa: ANN001
    """The widget channel's secret (without it, it warns that it makes a random one)."""
    env.set("TOUCHLINE_SESSION_SECRET", "call-forwarding-test-secret-0123456789")
    yield


@dataclass
class Process:
    """One Rasa process: its pub/sub manager, hub, widget channel and the calls it holds."""

    manager: LocalPubSubManager
    calls: CallMessages
    channel: SocketIOInput
    held: set[str] = field(default_factory=set)
    asked: list[CallMessage] = field(default_factory=list)
    """Every message this process's speaker was asked to speak."""
    spoken: list[CallMessage] = field(default_factory=list)

    async def speak(self, message: CallMessage) -> bool:
        """The voice channel's speaker: speaks on the calls this process holds."""
        self.asked.append(message)
        if message.conversation_id not in self.held:
            return False
        self.spoken.append(message)
        return True

    async def send(self, conversation_id: str) -> None:
        """Rasa's events API handing an agent's message to this process's voice output."""
        await CallOutput(self.calls).send_response(conversation_id, SAID)


def start(folder: Path, name: str) -> Process:
    """A process wired as the Rasa server wires it (voice channel's speaker, widget
    channel's forwarder and offer taker), its pub/sub started."""
    manager = LocalPubSubManager(folder, name=name)
    calls = CallMessages()
    channel = SocketIOInput(session_persistence=True, calls=calls)
    channel.sio = AsyncServer(async_mode="asgi", client_manager=manager)
    process = Process(manager, calls, channel)
    calls.speak_with(process.speak)
    calls.forward_with(channel.forward_call_message)
    manager.take_offers(channel.take_call_message)
    manager.initialize()
    return process


def run(tmp_path: Path, count: int,
        body: Callable[[list[Process]], Awaitable[None]]) -> None:
    """Start ``count`` processes sharing a folder, run ``body`` on them, stop them."""
    folder = private_folder(tmp_path / "peers")

    async def main() -> None:
        processes = [start(folder, f"p{i}") for i in range(count)]
        try:
            await body(processes)
        finally:
            for process in processes:
                process.manager.thread.cancel()
                for writer in process.manager._peers.values():
                    writer.close()

    asyncio.run(main())


def test_a_message_sent_to_another_process_is_spoken_once_by_the_holder(tmp_path, caplog):
    async def body(processes: list[Process]) -> None:
        sender, holder, other = processes
        holder.held.add(CALL)
        with caplog.at_level(logging.WARNING):
            await sender.send(CALL)
        assert holder.spoken == [CallMessage(CALL, SAID["text"])]
        assert sender.spoken == [] and other.spoken == []
        assert len(sender.asked) == 1  # tried itself first
        assert "not spoken" not in caplog.text

    run(tmp_path, 3, body)


def test_the_holder_speaks_a_message_it_receives_itself_and_publishes_nothing(tmp_path):
    async def body(processes: list[Process]) -> None:
        holder, *others = processes
        holder.held.add(CALL)
        await holder.send(CALL)
        await asyncio.sleep(0.2)  # a published offer would have reached the others by now
        assert holder.spoken == [CallMessage(CALL, SAID["text"])]
        assert all(p.asked == [] for p in others)

    run(tmp_path, 3, body)


def test_a_call_no_process_holds_is_stored_only_with_one_warning(tmp_path, caplog):
    async def body(processes: list[Process]) -> None:
        sender = processes[0]
        with caplog.at_level(logging.WARNING):
            await sender.send("voice:CAgone")
        assert all(p.spoken == [] for p in processes)
        assert all(len(p.asked) == 1 for p in processes)  # each was asked once, none held it
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage() for r in warnings] == [
            "voice:CAgone: no live call stream in any Rasa process; the message is stored "
            "in the conversation, not spoken"]

    run(tmp_path, 3, body)


def test_with_a_single_process_nothing_is_offered_and_the_answer_comes_at_once(tmp_path,
                                                                               caplog):
    async def body(processes: list[Process]) -> None:
        [alone] = processes
        with caplog.at_level(logging.WARNING):
            await asyncio.wait_for(alone.send("voice:CAnobody"), 1)
        assert alone.asked == [CallMessage("voice:CAnobody", SAID["text"])]
        assert "voice:CAnobody: no live call stream in any Rasa process" in caplog.text

    run(tmp_path, 1, body)


def test_messages_to_calls_on_two_processes_each_reach_their_own(tmp_path):
    async def body(processes: list[Process]) -> None:
        sender, first, second = processes
        first.held.add("voice:CAone")
        second.held.add("voice:CAtwo")
        await asyncio.gather(*(sender.send(call) for call in
                               ["voice:CAone", "voice:CAtwo"] * 5))
        assert [m.conversation_id for m in first.spoken] == ["voice:CAone"] * 5
        assert [m.conversation_id for m in second.spoken] == ["voice:CAtwo"] * 5
        assert sender.spoken == []

    run(tmp_path, 3, body)
