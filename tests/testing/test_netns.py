"""Network namespaces as hosts (:mod:`testing.netns`), which ``bench/cluster.py`` puts its
servers in: a server in one namespace is reached from another and from this machine's
namespace through the bridge, and not on this machine's loopback."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from testing import netns
from testing.stack import free_port

pytestmark = pytest.mark.skipif(not netns.available(),
                                reason="this machine does not allow network namespaces")


def test_a_server_in_one_namespace_is_a_host_of_its_own():
    port = free_port()
    with netns.Network() as network:
        server_ip = network.add_host("server")
        network.add_host("client")
        server = subprocess.Popen(network.command("server", [
            sys.executable, "-m", "http.server", "--bind", server_ip, str(port)]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://{server_ip}:{port}/"
            deadline = time.monotonic() + 20
            while True:
                try:
                    assert httpx.get(url, timeout=2).status_code == 200  # from this machine
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the namespaced server never answered"
                    time.sleep(0.2)
            fetch = network.command("client", [
                sys.executable, "-c", f"import urllib.request as u; print(u.urlopen({url!r}, "
                "timeout=5).status)"])
            assert subprocess.run(fetch, capture_output=True, text=True,
                                  check=True).stdout.strip() == "200"
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)  # not on our loopback
        finally:
            server.terminate()
            server.wait(10)
    assert not [line for line in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                 text=True).stdout.splitlines()
                if line.startswith(f"{network.tag}-")]
