"""Headless Chromium driven over the Chrome DevTools Protocol: navigate, evaluate, screenshot.

Debian's /usr/bin/chromium with a fresh profile and no background networking (this machine's
network is closed); `--remote-debugging-port=0` lets Chromium pick a free port, which it writes
to `DevToolsActivePort` in the profile. One page, one WebSocket, one command at a time.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)


class BrowserError(RuntimeError):
    """Chromium did not start, or a DevTools command failed."""


class Chromium:
    """One headless Chromium process and its first page."""

    def __init__(self, profile: Path, width: int = 1600, height: int = 1000) -> None:
        if not CHROMIUM.exists():
            raise BrowserError(
                f"{CHROMIUM} is missing: the UI test needs Debian's chromium "
                "(`make test` installs it with scripts/ensure-chromium.sh; or: apt-get install "
                "chromium)"
            )
        profile.mkdir(parents=True, exist_ok=True)
        self._log = (profile.parent / "chromium.log").open("wb")
        self.process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._ids = itertools.count(1)
        self._exit = ExitStack()
        try:
            self._socket = self._connect(profile / "DevToolsActivePort")
            self.call("Page.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                width=width, height=height, deviceScaleFactor=1, mobile=False,
            )  # fmt: skip
        except BaseException:
            self.close()
            raise

    def _connect(self, port_file: Path, timeout: float = 30) -> ClientConnection:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with {self.process.returncode}")
            if port_file.exists() and port_file.read_text().strip():
                port = port_file.read_text().split()[0]
                targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
                page = next(t for t in targets if t["type"] == "page")
                socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
                return self._exit.enter_context(socket)
            time.sleep(0.1)
        raise BrowserError(f"chromium wrote no {port_file.name} within {timeout:.0f} s")

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are dropped)."""
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._socket.recv(timeout=max(deadline - time.monotonic(), 0)))
            if message.get("id") != message_id:
                continue
            if "error" in message:
                raise BrowserError(f"{method}: {message['error']}")
            return message["result"]

    def goto(self, url: str) -> None:
        """Open a URL in the page (returns once the navigation is committed)."""
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Poll a JavaScript expression until it is truthy (errors count as false); return it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except BrowserError:  # e.g. no document.body yet while the page loads
                value = None
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.25)

    def press(self, key: str, alt: bool = False) -> None:
        """Type one letter key, with Alt held if asked (a keyboard shortcut)."""
        code = f"Key{key.upper()}"
        for event in ("rawKeyDown", "keyUp"):
            self.call(
                "Input.dispatchKeyEvent", type=event, key=key, code=code,
                windowsVirtualKeyCode=ord(key.upper()), modifiers=1 if alt else 0,
            )  # fmt: skip

    def screenshot(self, path: Path) -> Path:
        """Save the viewport as a PNG file."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and end the browser process."""
        self._exit.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
