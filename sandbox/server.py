"""Serve both simulated APIs with uvicorn: in the foreground (CLI) or a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import uvicorn
from promosync.sandbox.asgi import ABORT_EXTENSION, SandboxApi, build_app
from promosync.sandbox.settings import SandboxSettings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _AbortableProtocol(HttpToolsProtocol):
    """uvicorn's protocol with TCP_NODELAY, plus a scope extension that drops the connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # uvicorn writes headers and body separately; with Nagle on, a small answer then waits
        # for the client's delayed ACK (~40 ms) on every keep-alive request.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT_EXTENSION: self.transport.abort}


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner (two servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_apis(settings: SandboxSettings) -> tuple[SandboxApi, SandboxApi]:
    """The Voucherify and Talon.One simulators over one generated dataset."""
    from promosync.sandbox.talon_one.api import TalonOneApi
    from promosync.sandbox.voucherify.api import VoucherifyApi

    return VoucherifyApi(settings), TalonOneApi(settings)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Sandbox:
    """Both simulators, and Voucherify's download host, on their own sockets, one asyncio loop."""

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        host: str = "127.0.0.1",
        voucherify_port: int = 0,
        talon_one_port: int = 0,
        log_level: str = "warning",
        voucherify_download_port: int = 0,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.voucherify, self.talon_one = build_apis(self.settings)
        self._sockets = [
            _bind(host, voucherify_port),
            _bind(host, talon_one_port),
            _bind(host, voucherify_download_port),
        ]
        self.voucherify_url, self.talon_one_url, self.voucherify_download_url = (
            _url(host, s) for s in self._sockets
        )
        download = self.voucherify.download
        download.base_url = self.voucherify_download_url
        self._servers = [
            _QuietServer(
                uvicorn.Config(
                    build_app(api),
                    http=_AbortableProtocol,
                    lifespan="off",
                    log_level=log_level,
                    access_log=False,
                    timeout_keep_alive=30,
                )
            )
            for api in (self.voucherify, self.talon_one, download)
        ]
        self._thread: threading.Thread | None = None

    async def serve(self) -> None:
        """Serve until `stop()` (or a signal handler) asks every server to exit."""
        await asyncio.gather(
            *(
                server.serve(sockets=[sock])
                for server, sock in zip(self._servers, self._sockets, strict=True)
            )
        )

    def stop(self) -> None:
        """Ask every server to finish in-flight requests and exit."""
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def start_in_thread(self) -> Sandbox:
        """Serve from a daemon thread; return once every server accepts connections."""
        self._thread = threading.Thread(target=asyncio.run, args=(self.serve(),), daemon=True)
        self._thread.start()
        for _ in range(500):
            if all(server.started for server in self._servers):
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("sandbox did not start within 5 seconds")

    def __enter__(self) -> Sandbox:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_forever(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
            await self.serve()

        asyncio.run(main())


def spawn(*options: str, quiet: bool = False) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Run `promosync sandbox OPTIONS` in its own process; return it and its three base URLs.

    For the demo, `make ui` and the benchmarks, which need the sandbox on its own core.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "promosync.pipelines.cli", "sandbox", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline().strip() for _ in range(3)]
    if not all("=" in line for line in lines):
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {lines}")
    return process, dict(line.split("=", 1) for line in lines)
