"""Where the servers listen: the action server has no authentication, so it must only be
reachable from this machine (``Procfile`` under ``make run``, and the test stacks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from testing.stack import free_port, wait_http

pytestmark = pytest.mark.slow


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (Linux ``/proc/net``)."""
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # /proc/net prints each 32-bit word in host (little-endian) byte order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, raw))
    return found


def test_procfile_action_server_listens_on_loopback_even_with_host_0000(tmp_path):
    port = free_port()
    log = tmp_path / "honcho.log"
    env = {**os.environ, "HOST": "0.0.0.0", "ACTION_PORT": str(port)}
    honcho = str(Path(sys.executable).with_name("honcho"))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [honcho, "start", "-f", "Procfile", "actions"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log)
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_stack_servers_listen_on_loopback_only(stack):
    assert listening_addresses(stack.action_port) == {"127.0.0.1"}
    assert listening_addresses(stack.rasa_port) == {"127.0.0.1"}
