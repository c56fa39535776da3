"""A DNS server of the test's own on a loopback address, and processes that use it as their system resolver.

The server answers names under ``QUICK_ZONE`` at once (A 127.0.0.1, no AAAA) and reads every other query without
ever answering, over UDP and TCP: the authoritative DNS of an attacker's domain that never answers. A process uses it
through an ``/etc/resolv.conf`` of its own, bind-mounted in a mount namespace of its own (``unshare``: root only), so
the rest of the machine never sees it.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.service import Service
from tests.support.strict import require

QUICK_ZONE = "quick.test"
HUNG_ZONE = "hung.test"


def require_private_resolver() -> None:
    """Skip (fail under LINKCAST_TEST_STRICT=1) where a process cannot be given a resolv.conf of its own."""
    require(os.geteuid() == 0, "a private /etc/resolv.conf needs root (a mount namespace, unshare --mount)")
    require(shutil.which("unshare") is not None, "a private /etc/resolv.conf needs unshare (util-linux)")
    tried = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, check=False)
    require(tried.returncode == 0, f"unshare --mount is refused here: {tried.stderr.decode(errors='replace').strip()}")


class PrivateDNS:
    """The server, on a random 127.x.y.z port 53 (glibc asks port 53 only), and the resolv.conf that names it."""

    def __init__(self, folder: Path, timeout_seconds: int) -> None:
        self.address = self._bind()
        self.resolv_conf = folder / "resolv.conf"
        self.resolv_conf.write_text(
            f"nameserver {self.address}\noptions timeout:{timeout_seconds} attempts:1\nsearch .\n"
        )
        self.queries: list[str] = []
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _bind(self) -> str:
        for _ in range(20):
            address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind((address, 53))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((address, 53))
                tcp.listen(64)
            except OSError:
                udp.close()
                tcp.close()
                continue
            udp.settimeout(0.2)
            tcp.settimeout(0.2)
            self._udp, self._tcp = udp, tcp
            return address
        raise RuntimeError("no loopback address with port 53 free")

    def _serve_udp(self) -> None:
        while not self._stopping.is_set():
            try:
                query, peer = self._udp.recvfrom(4096)
            except TimeoutError:
                continue
            answer = self._answer(query)
            if answer is not None:
                self._udp.sendto(answer, peer)

    def _serve_tcp(self) -> None:
        held: list[socket.socket] = []  # connections of names never answered stay open, as a hung server's do
        while not self._stopping.is_set():
            try:
                connection, _ = self._tcp.accept()
            except TimeoutError:
                continue
            held.append(connection)
            connection.settimeout(2)
            try:
                data = connection.recv(4096)
            except OSError:
                continue
            answer = self._answer(data[2:]) if len(data) > 2 else None
            if answer is not None:
                connection.sendall(struct.pack("!H", len(answer)) + answer)
        for connection in held:
            connection.close()

    def _answer(self, query: bytes) -> bytes | None:
        """The answer to ``query`` for a quick name (A 127.0.0.1), or None for a name never answered."""
        if len(query) < 12:
            return None
        labels, at = [], 12
        while at < len(query) and query[at]:
            labels.append(query[at + 1 : at + 1 + query[at]].decode("ascii", "replace"))
            at += 1 + query[at]
        name = ".".join(labels).lower()
        self.queries.append(name)
        if not (name == QUICK_ZONE or name.endswith("." + QUICK_ZONE)):
            return None
        question = query[12 : at + 5]
        (qtype,) = struct.unpack("!H", query[at + 1 : at + 3])
        records = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1") if qtype == 1 else b""
        header = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if records else 0, 0, 0)
        return header + question + records

    def close(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._udp.close()
        self._tcp.close()


def in_namespace(resolv_conf: Path, command: list[str]) -> list[str]:
    """``command`` run with ``resolv_conf`` as its /etc/resolv.conf (the same process: unshare and sh exec it)."""
    mount_then_run = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount_then_run, str(resolv_conf), *command]


class ServiceOnPrivateDNS(Service):
    """``linkcast serve`` whose system resolver is a ``PrivateDNS``."""

    def __init__(self, dns: PrivateDNS, *flags: str, store: str, log_path: Path | None = None) -> None:
        super().__init__(*flags, store=store, log_path=log_path)
        self.dns = dns

    def command(self) -> list[str]:
        return in_namespace(self.dns.resolv_conf, super().command())


def run_python_on_private_dns(dns: PrivateDNS, script: str, timeout: float = 60.0) -> str:
    """Run ``script`` in a Python of this environment whose system resolver is ``dns``; its output, or fail."""
    done = subprocess.run(
        in_namespace(dns.resolv_conf, [sys.executable, "-c", script]),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output + done.stderr.decode(errors="replace")
    return output
