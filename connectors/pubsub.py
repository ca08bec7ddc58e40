"""Socket.IO messages between the Rasa server processes (Sanic workers) that serve the widget.

With ``SANIC_WORKERS=2`` the widget's tabs of one session can be connected to different
workers, and a spoken turn posted to one worker must reach tabs held by another.
python-socketio solves this with a pub/sub "client manager" (``AsyncPubSubManager``:
every emit is handled locally and published; each server replays what others published,
see https://python-socketio.readthedocs.io/en/stable/server.html#using-a-message-queue).
:func:`client_manager` picks one:

* ``$REDIS_URL`` set: python-socketio's Redis manager (:class:`RedisPubSubManager`, production,
  also across hosts);
* several workers without Redis: :class:`LocalPubSubManager`, UNIX *stream* sockets
  between the processes of one host, one listening socket per worker in a folder only this
  user can open (mode 0700, so no other local user can inject messages).  Every write is
  awaited: a busy receiver slows the sender down (back-pressure) instead of losing the
  message, and a receiver that takes nothing for :data:`SEND_TIMEOUT_S` is logged as an
  error (the datagrams used before were dropped silently once the receiver's queue of
  ``net.unix.max_dgram_qlen`` = 10 messages was full);
* one worker: python-socketio's in-process manager.

Both shared managers offer :meth:`DeliveryBarrier.barrier`: it returns once every other
process has handed everything this one published before the call to its own sockets.
A widget turn waits for it before the session's next turn may start
(:func:`delivered`), so a tab on another worker gets each turn whole and in order: without
it, a turn's replies could still sit in that worker's inbox when the next turn, run on
that worker, emitted its own directly to the tab.

They also carry *offers* (:meth:`DeliveryBarrier.offer`): something only one process can
handle (an agent's message for a phone call whose Media Stream another process holds,
:mod:`bot.dialogue.call_messages`) is offered to every other process; each hands it to its
taker (:meth:`DeliveryBarrier.take_offers`) and answers whether it took it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import stat
import struct
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from socketio import AsyncManager, AsyncRedisManager
from socketio.async_pubsub_manager import AsyncPubSubManager

from bot.config import var_dir

logger = logging.getLogger(__name__)

REDIS_URL_ENV = "REDIS_URL"
"""Environment variable naming the Redis server that carries emits between processes."""
WORKERS_ENV = "SANIC_WORKERS"
"""Rasa's own variable: the number of Sanic worker processes of the Rasa server."""
CHANNEL = "touchline-widget"
"""Pub/sub channel name shared by every Rasa process of one deployment."""
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest frame read from a peer (a bot message with product cards is a few kB)."""
SEND_TIMEOUT_S = 10.0
"""How long a write waits for a receiving process to take it before it is logged as lost."""
INBOX_FRAMES = 1000
"""Frames a process buffers before it stops reading its peers (they then wait)."""
BARRIER, BARRIER_DONE = "touchline_barrier", "touchline_barrier_done"
"""Pub/sub methods of :class:`DeliveryBarrier` (python-socketio ignores unknown methods)."""
OFFER, OFFER_ANSWER = "touchline_offer", "touchline_offer_answer"
"""Pub/sub methods of :meth:`DeliveryBarrier.offer`."""
_HEADER = struct.Struct("!I")


def sanic_workers() -> int:
    """The number of Rasa server processes, from ``$SANIC_WORKERS`` (Rasa's default: 1)."""
    try:
        return max(int(os.environ.get(WORKERS_ENV) or 1), 1)
    except ValueError:
        return 1


def client_manager() -> AsyncManager | None:
    """The client manager for this Rasa server (see the module docstring).

    Returns:
        A :class:`RedisPubSubManager` when ``$REDIS_URL`` is set, a
        :class:`LocalPubSubManager` for several workers, else ``None`` (python-socketio's
        in-process default).
    """
    url = os.environ.get(REDIS_URL_ENV, "")
    if url:
        return RedisPubSubManager(url, channel=CHANNEL)
    if sanic_workers() > 1:
        return LocalPubSubManager()
    return None


def default_folder() -> Path:
    """The peer folder of this deployment: one per ``$TOUCHLINE_VAR`` and user, in the
    temporary directory (UNIX socket paths must stay under 108 bytes)."""
    digest = hashlib.sha256(str(var_dir().resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"touchline-sio-{os.getuid()}-{digest}"


def private_folder(path: Path) -> Path:
    """``path`` as a folder only this user can use.

    Raises:
        PermissionError: it exists but is a link, not a folder, owned by someone else,
            or open to others (someone could plant sockets in it).
    """
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.getuid()
        or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ):
        raise PermissionError(f"{path} must be a folder of user {os.getuid()} with mode 0700")
    return path


Taker = Callable[[Any], Awaitable[bool]]
"""Handles an offer's data in this process; ``True``: taken (``False``: not for it)."""


class _Confirmations:
    """The answers one barrier or offer has received (counted before ``expected`` is known;
    ``taken`` counts the answers of an offer that took it)."""

    def __init__(self) -> None:
        self.expected: int | None = None
        self.received = 0
        self.taken = 0
        self.changed = asyncio.Event()

    def complete(self) -> bool:
        return self.expected is not None and self.received >= self.expected


class DeliveryBarrier(AsyncPubSubManager):
    """A pub/sub manager whose :meth:`barrier` waits until the other processes have
    handled what this one published.

    Every process handles what it receives in arrival order, one message after the other
    (``AsyncPubSubManager._thread``), and each peer's messages arrive in the order they
    were published.  So a ``touchline_barrier`` message that a process reaches in its
    stream comes after everything published before it by the same sender has been handed
    to that process's sockets; the process then publishes ``touchline_barrier_done``
    addressed to the sender.  Subclasses provide :meth:`_incoming` (the raw stream of
    JSON messages), and their ``_publish`` returns how many other processes took the
    message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """python-socketio's arguments."""
        super().__init__(*args, **kwargs)
        self._barriers: dict[str, _Confirmations] = {}
        self._offers: dict[str, _Confirmations] = {}
        self._replies: set[asyncio.Task[Any]] = set()
        self._taker: Taker | None = None

    async def barrier(self, timeout: float = SEND_TIMEOUT_S) -> None:
        """Wait until every other process has handed all that this process published
        before this call to its sockets (then it is queued on them ahead of anything they
        emit afterwards).

        Args:
            timeout: seconds to wait for the confirmations; past it an error naming how
                many processes did not confirm is logged and the call returns.
        """
        token = uuid.uuid4().hex
        confirmations = self._barriers[token] = _Confirmations()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            taken = await self._publish({"method": BARRIER, "id": token,
                                         "host_id": self.host_id})
            confirmations.expected = self._others(taken)
            while not confirmations.complete():
                left = deadline - asyncio.get_running_loop().time()
                await asyncio.wait_for(confirmations.changed.wait(), max(left, 0))
                confirmations.changed.clear()
        except asyncio.TimeoutError:
            logger.error("socket.io delivery not confirmed by %s of %s processes in %.0f s",
                         (confirmations.expected or 0) - confirmations.received,
                         confirmations.expected, timeout)
        finally:
            del self._barriers[token]

    def take_offers(self, taker: Taker) -> None:
        """Hand the data of other processes' offers (:meth:`offer`) to ``taker``; without
        one, this process declines every offer."""
        self._taker = taker

    async def offer(self, data: Any, timeout: float = SEND_TIMEOUT_S) -> bool:  # noqa: ANN401
        """Offer ``data`` (JSON-ready) to every other process's taker.

        Args:
            data: what the takers get.
            timeout: seconds to wait for the answers; past it an error naming how many
                processes did not answer is logged and the offer counts as not taken.

        Returns:
            ``True`` as soon as one process answers that it took it; ``False`` once every
            other process declined (at once when there is none).
        """
        token = uuid.uuid4().hex
        answers = self._offers[token] = _Confirmations()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            taken = await self._publish({"method": OFFER, "id": token, "data": data,
                                         "host_id": self.host_id})
            answers.expected = self._others(taken)
            while not (answers.taken or answers.complete()):
                left = deadline - asyncio.get_running_loop().time()
                await asyncio.wait_for(answers.changed.wait(), max(left, 0))
                answers.changed.clear()
            return answers.taken > 0
        except asyncio.TimeoutError:
            logger.error("socket.io offer not answered by %s of %s processes in %.0f s",
                         (answers.expected or 0) - answers.received, answers.expected,
                         timeout)
            return False
        finally:
            del self._offers[token]

    def _others(self, taken: Any) -> int:  # noqa: ANN401
        """How many other processes took a message, from ``_publish``'s result."""
        return taken if isinstance(taken, int) else 0

    def _incoming(self) -> AsyncIterator[Any]:
        """The raw messages other processes published, in arrival order."""
        raise NotImplementedError

    def _decode(self, message: Any) -> dict[str, Any] | None:  # noqa: ANN401
        """A raw message's JSON object, as python-socketio reads it (``None`` otherwise)."""
        data = self.json.loads(message)
        return data if isinstance(data, dict) else None

    async def _listen(self) -> AsyncIterator[Any]:
        """:meth:`_incoming` less the barrier and offer messages, which are answered here."""
        async for message in self._incoming():
            try:
                data = self._decode(message)
            except Exception:
                data = None
            if isinstance(data, dict) and data.get("method") in (BARRIER, BARRIER_DONE):
                self._barrier_message(data)
                continue
            if isinstance(data, dict) and data.get("method") in (OFFER, OFFER_ANSWER):
                self._offer_message(data)
                continue
            yield message

    def _reply(self, reply: Awaitable[Any]) -> None:
        """Run ``reply`` (a publication) in a task of its own: this stream never waits for
        it."""
        task = asyncio.ensure_future(reply)
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    def _barrier_message(self, data: dict[str, Any]) -> None:
        """Confirm another process's barrier (everything before it has been handled: this
        generator only resumes once python-socketio handled the previous message), or count
        a confirmation of one of ours."""
        if data["method"] == BARRIER and data.get("host_id") != self.host_id:
            reply = {"method": BARRIER_DONE, "id": data.get("id"), "to": data.get("host_id"),
                     "host_id": self.host_id}
            self._reply(self._publish(reply))
        elif data["method"] == BARRIER_DONE and data.get("to") == self.host_id:
            confirmations = self._barriers.get(str(data.get("id")))
            if confirmations is not None:
                confirmations.received += 1
                confirmations.changed.set()


    def _offer_message(self, data: dict[str, Any]) -> None:
        """Hand another process's offer to the taker and answer it (in a task: the stream
        goes on meanwhile), or count an answer to one of ours."""
        if data["method"] == OFFER and data.get("host_id") != self.host_id:
            self._reply(self._answer(data))
        elif data["method"] == OFFER_ANSWER and data.get("to") == self.host_id:
            answers = self._offers.get(str(data.get("id")))
            if answers is not None:
                answers.received += 1
                answers.taken += data.get("taken") is True
                answers.changed.set()

    async def _answer(self, offer: dict[str, Any]) -> None:
        """Run the taker on ``offer``'s data and tell its sender whether it took it (a
        taker's exception is logged and answered as not taken)."""
        taken = False
        if self._taker is not None:
            try:
                taken = await self._taker(offer.get("data"))
            except Exception:
                logger.exception("socket.io offer from another process failed here")
        await self._publish({"method": OFFER_ANSWER, "id": offer.get("id"),
                             "to": offer.get("host_id"), "taken": taken is True,
                             "host_id": self.host_id})


async def delivered(manager: AsyncManager) -> None:
    """:meth:`DeliveryBarrier.barrier` of ``manager``; nothing to wait for with
    python-socketio's in-process manager (one Rasa process)."""
    if isinstance(manager, DeliveryBarrier):
        await manager.barrier()


async def offered(manager: AsyncManager, data: Any) -> bool:  # noqa: ANN401
    """:meth:`DeliveryBarrier.offer` of ``manager``; ``False`` with python-socketio's
    in-process manager (one Rasa process: there is nobody to offer it to)."""
    if isinstance(manager, DeliveryBarrier):
        return await manager.offer(data)
    return False


class RedisPubSubManager(DeliveryBarrier, AsyncRedisManager):
    """python-socketio's Redis manager, with an id of its own in every Sanic worker.

    A manager tells its own messages from others' by ``host_id``, made when it is built;
    Rasa builds the channel before Sanic forks the workers, so without a new id each worker
    would take the others' messages for its own and drop them.
    """

    def initialize(self) -> None:
        """Take a fresh ``host_id``, then connect (python-socketio calls this)."""
        self.host_id = uuid.uuid4().hex
        super().initialize()

    def _incoming(self) -> AsyncIterator[Any]:
        """python-socketio's Redis subscription."""
        return AsyncRedisManager._listen(self)

    def _others(self, taken: Any) -> int:  # noqa: ANN401
        """Redis counts the subscribers that got the message, this process included."""
        return max(taken - 1, 0) if isinstance(taken, int) else 0


class LocalPubSubManager(DeliveryBarrier):
    """python-socketio client manager sharing emits among the processes of one host.

    Each process listens on ``<folder>/<pid>`` (a UNIX stream socket) once its server
    initialises the manager (when each Sanic worker starts, ``connectors/socketio.py``;
    python-socketio alone would wait for the worker's first connection),
    and keeps one connection to every other listening process, over which it writes
    length-prefixed JSON frames in order.  The socket of a process that has gone is
    removed.  Emits addressed to one socket of this process are not published.
    """

    name = "touchline-local"

    def __init__(self, folder: Path | None = None, name: str | None = None) -> None:
        """Publish among the processes using ``folder`` (default :func:`default_folder`),
        listening on ``<folder>/<name>`` (default: this process's pid, read when
        :meth:`initialize` runs, after Sanic forked the workers; a name lets several
        managers share one process, as in the tests)."""
        super().__init__(channel=CHANNEL)
        self.folder = folder or default_folder()
        self.name_in_folder = name
        self._listener: socket.socket | None = None
        self._server: asyncio.AbstractServer | None = None  # held: uvloop closes a dropped one
        self._inbox: asyncio.Queue[bytes] | None = None
        self._peers: dict[str, asyncio.StreamWriter] = {}
        self._peer_locks: dict[str, asyncio.Lock] = {}

    def initialize(self) -> None:
        """Listen on this process's socket and start reading (python-socketio calls this)."""
        self.host_id = uuid.uuid4().hex  # the parent's id was copied into every worker
        path = private_folder(self.folder) / self._own()
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(64)  # peers may connect now; they are accepted once _listen runs
        self._listener = listener
        super().initialize()

    async def emit(
        self,
        event: str,
        data: Any,  # noqa: ANN401
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: Any = None,  # noqa: ANN401
        callback: Any = None,  # noqa: ANN401
        to: str | None = None,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        """python-socketio's emit; one socket of this process is served without publishing."""
        target = to or room
        if target is not None and self.is_connected(target, namespace or "/"):
            kwargs["ignore_queue"] = True
        await super().emit(
            event,
            data,
            namespace=namespace,
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            to=to,
            **kwargs,
        )

    async def _publish(self, data: dict[str, Any]) -> int:
        """Write ``data`` to every other process, in order, waiting while a peer is busy.

        A peer that does not take the frame within :data:`SEND_TIMEOUT_S` or whose
        connection breaks is logged as an error with the message's method and event.

        Returns:
            How many other processes took the frame.
        """
        payload = self.json.dumps(data).encode()
        frame = _HEADER.pack(len(payload)) + payload
        own = self._own()
        try:
            peers = [p for p in private_folder(self.folder).iterdir() if p.name != own]
        except OSError:
            logger.exception("socket.io peers unavailable; %s not shared", _describe(data))
            return 0
        taken = 0
        for peer in peers:
            taken += await self._send(peer, frame, data)
        return taken

    def _own(self) -> str:
        """The name of this manager's socket in the folder."""
        return self.name_in_folder or str(os.getpid())

    async def _send(self, peer: Path, frame: bytes, data: dict[str, Any]) -> bool:
        """Write one frame to ``peer`` (connecting first when needed); whether it took it."""
        lock = self._peer_locks.setdefault(peer.name, asyncio.Lock())
        async with lock:  # one connection per peer keeps the frames in order
            writer = self._peers.get(peer.name)
            try:
                if writer is None:
                    _, writer = await asyncio.open_unix_connection(str(peer))
                    self._peers[peer.name] = writer
                writer.write(frame)
                await asyncio.wait_for(writer.drain(), SEND_TIMEOUT_S)
                return True
            except (ConnectionRefusedError, FileNotFoundError):
                peer.unlink(missing_ok=True)  # nobody listens there: its process has gone
                self._drop(peer.name)
            except (OSError, asyncio.TimeoutError) as error:
                self._drop(peer.name)
                logger.error("socket.io %s not delivered to process %s: %r",
                             _describe(data), peer.name, error)
            return False

    def _drop(self, name: str) -> None:
        writer = self._peers.pop(name, None)
        if writer is not None:
            writer.close()

    async def _incoming(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        """Messages other processes published, as they arrive."""
        assert self._listener is not None
        self._inbox = asyncio.Queue(INBOX_FRAMES)
        self._server = await asyncio.start_unix_server(self._read_peer, sock=self._listener)
        while True:
            yield await self._inbox.get()

    async def _read_peer(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """Queue the frames of one peer connection until it closes."""
        assert self._inbox is not None
        try:
            while True:
                (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                if size > MAX_MESSAGE_BYTES:
                    logger.error("socket.io peer sent a %d-byte frame; connection closed", size)
                    return
                await self._inbox.put(await reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # the peer closed or died
        finally:
            writer.close()


def _describe(data: dict[str, Any]) -> str:
    """``"message emit bot_uttered"``: what a pub/sub message was, for error logs."""
    return " ".join(["message", str(data.get("method")), str(data.get("event") or "")]).strip()
