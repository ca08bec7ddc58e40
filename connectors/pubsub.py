"""Socket.IO messages between the Rasa server processes (Sanic workers) of one host.

With ``SANIC_WORKERS=2`` the widget's tabs of one session can be connected to different
workers, and a spoken turn posted to one worker must reach tabs held by another.
python-socketio solves this with a pub/sub "client manager" (``AsyncPubSubManager``:
every emit is handled locally and published; each server replays what others published,
see https://python-socketio.readthedocs.io/en/stable/server.html#using-a-message-queue).
Its stock back ends need Redis, RabbitMQ or Kafka; :class:`LocalPubSubManager` publishes
over UNIX datagram sockets instead, one per worker, in a folder only this user can open
(mode 0700, so no other local user can inject messages).  Emits addressed to one socket
of this process are not published.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import stat
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from socketio.async_pubsub_manager import AsyncPubSubManager

from bot.config import var_dir

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 200_000
"""Largest message read (Linux's default socket buffer, ``net.core.wmem_default``)."""


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


class LocalPubSubManager(AsyncPubSubManager):
    """python-socketio client manager sharing emits among the processes of one host.

    Each process binds ``<folder>/<pid>`` when its server initialises the manager (on the
    first connection, after Sanic forked the workers) and publishes a JSON datagram to
    every other socket in the folder; the socket of a process that has gone is removed.
    """

    name = "touchline-local"

    def __init__(self, folder: Path | None = None) -> None:
        """Publish among the processes using ``folder`` (default :func:`default_folder`)."""
        super().__init__(channel="touchline")
        self.folder = folder or default_folder()
        self._inbox: socket.socket | None = None
        self._outbox: socket.socket | None = None

    def initialize(self) -> None:
        """Bind this process's inbox and start listening (python-socketio calls this)."""
        self.host_id = uuid.uuid4().hex  # the parent's id was copied into every worker
        path = private_folder(self.folder) / str(os.getpid())
        path.unlink(missing_ok=True)
        inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        inbox.bind(str(path))
        inbox.setblocking(False)
        self._inbox = inbox
        super().initialize()

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,  # noqa: ANN401
        room: str | None = None,
        skip_sid: Any = None,  # noqa: ANN401
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:  # noqa: ANN401
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
        """Send ``data`` to every other process's inbox (never blocks; drops when full)."""
        if self._outbox is None:
            self._outbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._outbox.setblocking(False)
        payload = self.json.dumps(data).encode()
        own = str(os.getpid())
        try:
            peers = [p for p in private_folder(self.folder).iterdir() if p.name != own]
        except OSError:
            logger.exception("socket.io peers unavailable; message not shared")
            return
        for peer in peers:
            try:
                self._outbox.sendto(payload, str(peer))
            except (ConnectionRefusedError, FileNotFoundError):
                peer.unlink(missing_ok=True)  # its process has gone
            except OSError as error:  # full inbox or oversized message
                logger.warning("socket.io message not shared with process %s: %s", peer.name, error)

    async def _listen(self) -> AsyncIterator[bytes]:
        """Messages other processes published, as they arrive."""
        assert self._inbox is not None
        loop = asyncio.get_running_loop()
        while True:
            yield await loop.sock_recv(self._inbox, MAX_MESSAGE_BYTES)
