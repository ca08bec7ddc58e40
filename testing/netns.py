"""Network namespaces as hosts: each server of a benchmark cluster on "its own machine".

A :class:`Network` is a Linux bridge in this machine's namespace (the gateway address
``10.213.<n>.1/24``, where the harness, nginx and the shared services are reached) and one
network namespace per host, joined to the bridge by a veth pair, with its own loopback and
address ``10.213.<n>.<k>``. A process started with :meth:`Network.command` sees only its
host's interfaces: it listens on its own address and reaches the others over the bridge, as
separate machines on one LAN would (UNIX sockets and files are still shared).

Needs root and ``ip`` (iproute2); :func:`available` says whether this machine allows it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field

SUBNET = "10.213"
"""First two octets of the benchmark's private subnet (RFC 1918)."""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def available() -> bool:
    """Whether network namespaces can be made here (root, ``ip``, and the kernel allows
    it: a container may not)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"tlprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError):
        return False
    with contextlib.suppress(subprocess.CalledProcessError):
        _ip("netns", "del", probe)
    return True


@dataclass
class Network:
    """A bridge and its hosts (see the module docstring); :meth:`close` removes them."""

    subnet: int = field(default_factory=lambda: 1 + os.getpid() % 250)
    """Third octet of the subnet (from the pid, so two runs rarely collide)."""
    hosts: dict[str, str] = field(default_factory=dict)
    """Host name -> its address."""

    @property
    def tag(self) -> str:
        """Prefix of this network's interface and namespace names (at most 15 characters
        with the suffixes, Linux's limit for an interface name)."""
        return f"tl{self.subnet}"

    @property
    def gateway(self) -> str:
        """The bridge's address in this machine's namespace."""
        return f"{SUBNET}.{self.subnet}.1"

    def start(self) -> Network:
        """Make the bridge with :attr:`gateway`.

        Raises:
            subprocess.CalledProcessError: ``ip`` refused (not root, or no namespaces).
        """
        _ip("link", "add", f"{self.tag}br", "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", f"{self.tag}br")
        _ip("link", "set", f"{self.tag}br", "up")
        return self

    def add_host(self, name: str) -> str:
        """A new namespace ``name`` on the bridge; returns its address.

        Raises:
            subprocess.CalledProcessError: ``ip`` refused.
        """
        index = len(self.hosts) + 10
        address = f"{SUBNET}.{self.subnet}.{index}"
        ns, outside, inside = f"{self.tag}-{name}", f"{self.tag}v{index}", f"{self.tag}e{index}"
        _ip("netns", "add", ns)
        self.hosts[name] = address
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", ns)
        _ip("link", "set", outside, "master", f"{self.tag}br", "up")
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", ns, "link", "set", inside, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "route", "add", "default", "via", self.gateway)
        return address

    def command(self, host: str, args: list[str]) -> list[str]:
        """``args`` run inside ``host``'s namespace (``ip netns exec`` executes the command
        in place: the process keeps its pid, so signals reach it)."""
        return ["ip", "netns", "exec", f"{self.tag}-{host}", *args]

    def close(self) -> None:
        """Remove the namespaces (their veth pairs go with them) and the bridge."""
        for name in list(self.hosts):
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "del", f"{self.tag}-{name}")
            del self.hosts[name]
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", f"{self.tag}br")

    def __enter__(self) -> Network:
        """Start it."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        """Close it."""
        self.close()
