"""Hostile and broken servers on loopback, for the client to meet: each a raw TCP server whose
every connection gets one behaviour (never answer, trickle headers, an endless body, a gzip bomb,
garbage, an HTML page, TLS with an untrusted certificate…).

Used by tests/reliability/test_hostile_servers.py and bench/first_error.py.
"""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

Behaviour = Callable[[socket.socket, threading.Event], None]
MIB = 1024 * 1024
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # no name, no time, max compression


class HostileServer:
    """A loopback server that hands every accepted connection to `behaviour` in a thread.

    `tls` (a (certificate, key) pair of files) makes it speak TLS. Use it as a context manager;
    on exit it stops every behaviour and closes every socket.
    """

    def __init__(self, behaviour: Behaviour, tls: tuple[Path, Path] | None = None) -> None:
        self.behaviour, self.stopping = behaviour, threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context = None
        if tls:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*tls)
        self.connections: list[socket.socket] = []
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.listener.close()
        for conn in list(self.connections):
            conn.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
                self.connections.append(conn)
            self.behaviour(conn, self.stopping)
        except (OSError, ssl.SSLError):
            pass  # the client gave up or was cut off: what these servers are for
        finally:
            conn.close()


BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def read_request(conn: socket.socket) -> bytes:
    """The request's head (up to the blank line), or its first bytes if they are not HTTP."""
    data = b""
    while b"\r\n\r\n" not in data and (not data or data[:1].isupper()):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def answer(status: int, body: bytes, content_type: str, **headers: str) -> Behaviour:
    """Answer every request with `status`, `body` and its Content-Type (keep-alive)."""
    extra = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    head = (
        f"HTTP/1.1 {status} Whatever\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode()

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        while request := read_request(conn):
            if not request[:1].isupper():  # a TLS hello, say: refused as a web server does
                conn.sendall(BAD_REQUEST)
                return
            conn.sendall(head + body)

    return behave


def html(status: int, title: str) -> Behaviour:
    """An HTML page with `title`, as a web server, proxy or login page answers."""
    page = f"<!doctype html><html><head><title>{title}</title></head><body>{title}</body></html>"
    return answer(status, page.encode(), "text/html; charset=utf-8")


def silent(conn: socket.socket, stopping: threading.Event) -> None:
    """Accept the request and never answer."""
    read_request(conn)
    stopping.wait()


def trickle_headers(every: float) -> Behaviour:
    """A status line, then one byte of a header line every `every` seconds, for ever."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not stopping.wait(every):
            conn.sendall(b"a")

    return behave


def endless_body(conn: socket.socket, stopping: threading.Event) -> None:
    """A JSON answer whose chunked body never ends."""
    read_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"[" + b"0," * 32767 + b"0"
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while not stopping.is_set():
        conn.sendall(frame)


def trickle_body(every: float) -> Behaviour:
    """Headers promising a 1 MB body, then one byte of it every `every` seconds."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n["
        )
        while not stopping.wait(every):
            conn.sendall(b" ")

    return behave


def announce(length: int) -> Behaviour:
    """Headers announcing a body of `length` bytes, then silence."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        read_request(conn)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
        conn.sendall(head.encode() + b"\r\n[")
        stopping.wait()

    return behave


def gzip_bomb(mebibytes: int) -> Behaviour:
    """A gzip body of about 1 kB a GiB that inflates to `mebibytes` MiB of JSON-looking zeros.

    Built from one compressed MiB repeated (each block starts afresh after a full flush), so a
    1 GiB bomb takes half a second to make, not the seven that compressing it would.
    """
    chunk = b"0" * MIB
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    trailer = struct.pack("<II", crc, (mebibytes * MIB) & 0xFFFFFFFF)
    body = GZIP_HEADER + first + again * (mebibytes - 1) + deflate.flush() + trailer
    return answer(200, body, "application/json", Content_Encoding="gzip")


def garbage(conn: socket.socket, stopping: threading.Event) -> None:
    """A service that is not HTTP: it speaks first (an SSH banner) and never parses HTTP."""
    conn.sendall(b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n")
    read_request(conn)
    conn.sendall(b"Invalid SSH identification string.\r\n")


def close_at_once(conn: socket.socket, stopping: threading.Event) -> None:
    """Accept and hang up without a byte."""
    conn.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key (made with `openssl`)."""
    cert, key = folder / "hostile.crt", folder / "hostile.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
