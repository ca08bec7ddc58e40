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
from collections.abc import AsyncIterator
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


class RedisPubSubManager(AsyncRedisManager):
    """python-socketio's Redis manager, with an id of its own in every Sanic worker.

    A manager tells its own messages from others' by ``host_id``, made when it is built;
    Rasa builds the channel before Sanic forks the workers, so without a new id each worker
    would take the others' messages for its own and drop them.
    """

    def initialize(self) -> None:
        """Take a fresh ``host_id``, then connect (python-socketio calls this)."""
        self.host_id = uuid.uuid4().hex
        super().initialize()


class LocalPubSubManager(AsyncPubSubManager):
    """python-socketio client manager sharing emits among the processes of one host.

    Each process listens on ``<folder>/<pid>`` (a UNIX stream socket) once its server
    initialises the manager (on the first connection, after Sanic forked the workers),
    and keeps one connection to every other listening process, over which it writes
    length-prefixed JSON frames in order.  The socket of a process that has gone is
    removed.  Emits addressed to one socket of this process are not published.
    """

    name = "touchline-local"

    def __init__(self, folder: Path | None = None) -> None:
        """Publish among the processes using ``folder`` (default :func:`default_folder`)."""
        super().__init__(channel=CHANNEL)
        self.folder = folder or default_folder()
        self._listener: socket.socket | None = None
        self._server: asyncio.AbstractServer | None = None  # held: uvloop closes a dropped one
        self._inbox: asyncio.Queue[bytes] | None = None
        self._peers: dict[str, asyncio.StreamWriter] = {}
        self._peer_locks: dict[str, asyncio.Lock] = {}

    def initialize(self) -> None:
        """Listen on this process's socket and start reading (python-socketio calls this)."""
        self.host_id = uuid.uuid4().hex  # the parent's id was copied into every worker
        path = private_folder(self.folder) / str(os.getpid())
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

    async def _publish(self, data: dict[str, Any]) -> None:
        """Write ``data`` to every other process, in order, waiting while a peer is busy.

        A peer that does not take the frame within :data:`SEND_TIMEOUT_S` or whose
        connection breaks is logged as an error with the message's method and event.
        """
        payload = self.json.dumps(data).encode()
        frame = _HEADER.pack(len(payload)) + payload
        own = str(os.getpid())
        try:
            peers = [p for p in private_folder(self.folder).iterdir() if p.name != own]
        except OSError:
            logger.exception("socket.io peers unavailable; %s not shared", _describe(data))
            return
        for peer in peers:
            await self._send(peer, frame, data)

    async def _send(self, peer: Path, frame: bytes, data: dict[str, Any]) -> None:
        """Write one frame to ``peer`` (connecting first when needed)."""
        lock = self._peer_locks.setdefault(peer.name, asyncio.Lock())
        async with lock:  # one connection per peer keeps the frames in order
            writer = self._peers.get(peer.name)
            try:
                if writer is None:
                    _, writer = await asyncio.open_unix_connection(str(peer))
                    self._peers[peer.name] = writer
                writer.write(frame)
                await asyncio.wait_for(writer.drain(), SEND_TIMEOUT_S)
            except (ConnectionRefusedError, FileNotFoundError):
                peer.unlink(missing_ok=True)  # nobody listens there: its process has gone
                self._drop(peer.name)
            except (OSError, asyncio.TimeoutError) as error:
                self._drop(peer.name)
                logger.error("socket.io %s not delivered to process %s: %r",
                             _describe(data), peer.name, error)

    def _drop(self, name: str) -> None:
        writer = self._peers.pop(name, None)
        if writer is not None:
            writer.close()

    async def _listen(self) -> AsyncIterator[bytes]:
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
