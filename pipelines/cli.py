"""The `promosync` command line."""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import typer
from promosync.pipelines.plan_cli import plan
from promosync.pipelines.push_cli import push_app
from promosync.pipelines.rejects_cli import rejects_app
from promosync.pipelines.sandbox_options import with_settings_options
from promosync.pipelines.status_cli import status
from promosync.pipelines.sync_cli import sync

PRIVATE_UMASK = 0o077

app = typer.Typer(
    help="promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."
)


app.add_typer(push_app, name="push", help="Push warehouse rows back to the platforms.")
app.add_typer(rejects_app, name="rejects", help="Records a pull could not read; resolve them.")


app.command()(status)
app.command()(plan)
app.command()(sync)


@app.callback()
def main() -> None:
    """promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."""
    # Warehouse files, DuckDB's log and the Dagster storage hold customer data: whatever the
    # umask, what this process creates is for its user only (0600 files, 0700 folders).
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


@app.command()
@with_settings_options
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address every server listens on."),
    voucherify_port: int = typer.Option(
        0, min=0, max=65535, help="Port of the Voucherify simulator (0: a free one)."
    ),
    talon_one_port: int = typer.Option(
        0, min=0, max=65535, help="Port of the Talon.One simulator (0: a free one)."
    ),
    voucherify_download_port: int = typer.Option(
        0, min=0, max=65535, help="Port of the Voucherify export download host (0: a free one)."
    ),
    **settings: Any,
) -> None:
    """Serve local simulators of Voucherify and Talon.One until interrupted.

    PUT /_sandbox/config changes the same settings at run time (docs/SANDBOX.md).
    """
    from promosync.sandbox.settings import SandboxSettings

    Sandbox = sandbox_server()

    try:
        chosen = SandboxSettings(**settings)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    ports = {"--voucherify-port": voucherify_port, "--talon-one-port": talon_one_port}
    if voucherify_download_port:  # named only when given: most runs leave it to the system
        ports["--voucherify-download-port"] = voucherify_download_port
    given = [port for port in ports.values() if port]
    if len(set(given)) < len(given):
        shared = [flag for flag, port in ports.items() if port and given.count(port) > 1]
        raise typer.BadParameter(
            "each simulator needs a port of its own (or 0 for a free one)",
            param_hint=" / ".join(shared),
        )
    try:
        server = Sandbox(
            chosen,
            host,
            voucherify_port,
            talon_one_port,
            voucherify_download_port=voucherify_download_port,
        )
    except OSError as error:
        asked = ", ".join(f"{flag} {port}" for flag, port in ports.items())
        typer.echo(
            f"sandbox: cannot listen on {host} ({asked}): {listen_error(error, host)}", err=True
        )
        raise typer.Exit(1) from None
    typer.echo(f"VOUCHERIFY_BASE_URL={server.voucherify_url}")
    typer.echo(f"TALON_ONE_BASE_URL={server.talon_one_url}")
    typer.echo(f"VOUCHERIFY_DOWNLOAD_URL={server.voucherify_download_url}")
    ready = f"sandbox ready: {chosen.customers} customers, seed {chosen.seed}; Ctrl-C stops it"
    typer.echo(ready, err=True)
    server.run_forever()


SANDBOX_EXTRA_HINT = (
    "sandbox: the simulators need the sandbox extra; install it with"
    " pip install 'promosync[sandbox]'"
)


def sandbox_server() -> type:
    """The simulators' server class, or one line and exit 2 when the sandbox extra is missing
    (starlette, uvicorn, sortedcontainers, python-multipart: not needed to sync)."""
    try:
        from promosync.sandbox.server import Sandbox
    except ImportError as error:
        typer.echo(f"{SANDBOX_EXTRA_HINT} (missing: {error.name})", err=True)
        raise typer.Exit(2) from None
    return Sandbox


def listen_error(error: OSError, host: str) -> str:
    """Why a port could not be listened on, and what to do, in a few words."""
    if isinstance(error, socket.gaierror):
        return f"{host!r} is not a host name or address this machine can resolve; e.g. 127.0.0.1"
    reasons = {
        errno.EADDRINUSE: "a port is already in use; choose another, or 0 for a free one",
        errno.EACCES: "ports below 1024 need root; choose one from 1024 up, or 0 for a free one",
        errno.EADDRNOTAVAIL: f"{host} is not an address of this machine; e.g. 127.0.0.1",
    }
    return reasons.get(error.errno, error.strerror or type(error).__name__)


if __name__ == "__main__":
    app()
