"""A deadline for a whole request, however slowly its answer trickles in.

urllib3's read timeout bounds each wait for the next bytes, so a server that sends one byte of
its headers or body a little more often than that keeps a request alive for ever. Here one
watchdog thread per process ends any request past its deadline: it shuts down the connection's
socket, so the blocked read returns at once and the request fails (`Deadline.expired` tells why).

The connection a request uses is only known inside urllib3, so `WatchedConnection` (the
connection class of promosync's pools) attaches itself to the deadline of the request its thread
is sending; it keeps a duplicate of its socket that only the watchdog uses, and closes it with
the connection, under the watchdog's lock, so the socket shut down is always the right one.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Deadline:
    """One request's deadline; `expired` once the watchdog has cut its connection."""

    __slots__ = ("at", "connection", "expired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.connection: Any = None
        self.expired = False


class Watchdog:
    """One daemon thread that cuts the connection of every request past its deadline."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked child has no watchdog yet

    def _reset(self) -> None:
        self.lock = threading.Condition(threading.Lock())
        self._active: set[Deadline] = set()
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None
        self._local = threading.local()

    def start(self, seconds: float) -> Deadline:
        """A deadline `seconds` from now for the request this thread sends next."""
        deadline = Deadline(time.monotonic() + seconds)
        with self.lock:
            self._active.add(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="promosync-deadlines")
                self._thread.daemon = True
                self._thread.start()
            if deadline.at < self._wake_at:  # rare: only after a pause, or a shorter deadline
                self.lock.notify()
        self._local.deadline = deadline
        return deadline

    def finish(self, deadline: Deadline) -> None:
        """The request is over (answered or failed): its deadline no longer applies."""
        self._local.deadline = None
        with self.lock:
            self._active.discard(deadline)

    def current(self) -> Deadline | None:
        """The deadline of the request this thread is sending, if any."""
        return getattr(self._local, "deadline", None)

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                for deadline in [d for d in self._active if d.at <= now]:
                    self._active.discard(deadline)
                    deadline.expired = True
                    if deadline.connection is not None:
                        deadline.connection.cut()
                self._wake_at = min((d.at for d in self._active), default=math.inf)
                self.lock.wait(
                    None if self._wake_at == math.inf else min(self._wake_at - now, 3600)
                )


WATCHDOG = Watchdog()


class WatchedConnection(HTTPConnection):
    """An HTTP connection the watchdog can cut while a read is blocked on it."""

    _spare: socket.socket | None = None  # a duplicate of the socket, shut down by `cut`
    _deadline: Deadline | None = None  # of the request using the connection now

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        spare = sock.dup()
        with WATCHDOG.lock:
            self._spare = spare
        self._watch()
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._watch()
        super().request(*args, **kwargs)

    def _watch(self) -> None:
        deadline = WATCHDOG.current()
        if deadline is not None:
            deadline.connection, self._deadline = self, deadline

    def unwatch(self) -> None:
        """Back in the pool: the deadline of the request that used it must not cut it any more
        (urllib3 returns a connection as its body's last byte is read, before the request ends)."""
        if self._deadline is not None:
            with WATCHDOG.lock:
                self._deadline.connection = None
            self._deadline = None

    def cut(self) -> None:
        """Shut the connection down both ways (called by the watchdog, under its lock)."""
        if self._spare is not None:
            with contextlib.suppress(OSError):  # already closed by the peer
                self._spare.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        super().close()
        with WATCHDOG.lock:
            if self._spare is not None:
                self._spare.close()
                self._spare = None


class WatchedHTTPSConnection(WatchedConnection, HTTPSConnection):
    """The HTTPS flavour: the TLS handshake too is cut at the deadline."""


class _Unwatching:
    """A pool that detaches a connection from its request's deadline as it takes it back."""

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.unwatch()
        super()._put_conn(conn)  # type: ignore[misc]


class WatchedPool(_Unwatching, HTTPConnectionPool):
    ConnectionCls = WatchedConnection


class WatchedHTTPSPool(_Unwatching, HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


POOL_CLASSES = {"http": WatchedPool, "https": WatchedHTTPSPool}
