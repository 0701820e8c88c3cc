"""The `promosync` command line."""

from __future__ import annotations

import errno
import os
import socket

import typer
from promosync.pipelines.push_cli import push_app
from promosync.pipelines.status_cli import status
from promosync.pipelines.sync_cli import sync

PRIVATE_UMASK = 0o077

app = typer.Typer(
    help="promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."
)


app.add_typer(push_app, name="push", help="Push warehouse rows back to the platforms.")


app.command()(status)
app.command()(sync)


@app.callback()
def main() -> None:
    """promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."""
    # Warehouse files, DuckDB's log and the Dagster storage hold customer data: whatever the
    # umask, what this process creates is for its user only (0600 files, 0700 folders).
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address both servers listen on."),
    voucherify_port: int = typer.Option(
        0, min=0, max=65535, help="Port of the Voucherify simulator (0: a free one)."
    ),
    talon_one_port: int = typer.Option(
        0, min=0, max=65535, help="Port of the Talon.One simulator (0: a free one)."
    ),
    customers: int = typer.Option(1000, min=0, help="Number of Voucherify customers generated."),
    talon_one_transactions: int = typer.Option(
        0, min=0, help="Talon.One loyalty transactions in all (0: one to six per ledger)."
    ),
    seed: int = typer.Option(42, help="Seed of the generated data and of fault injection."),
    voucherify_app_id: str = typer.Option("sandbox-app-id", help="Accepted X-App-Id."),
    voucherify_app_token: str = typer.Option("sandbox-app-token", help="Accepted X-App-Token."),
    talon_one_api_key: str = typer.Option("sandbox-api-key", help="Accepted ApiKey-v1 key."),
    talon_one_management_key: str = typer.Option(
        "sandbox-management-key", help="Accepted ManagementKey-v1 key."
    ),
    voucherify_requests_per_minute: int = typer.Option(
        2000, help="Voucherify budget per app id (0: unlimited)."
    ),
    talon_one_requests_per_minute: int = typer.Option(
        0, help="Talon.One Integration API budget per key (0: unlimited)."
    ),
    management_requests_per_second: int = typer.Option(
        3, help="Talon.One Management API limit per endpoint (0: unlimited)."
    ),
    async_action_seconds: float = typer.Option(
        1.0, help="Seconds a Voucherify async action takes to finish."
    ),
) -> None:
    """Serve local simulators of Voucherify and Talon.One until interrupted."""
    from promosync.sandbox.server import Sandbox
    from promosync.sandbox.settings import SandboxSettings

    settings = SandboxSettings(
        seed=seed,
        customers=customers,
        talon_one_transactions=talon_one_transactions,
        voucherify_app_id=voucherify_app_id,
        voucherify_app_token=voucherify_app_token,
        talon_one_api_key=talon_one_api_key,
        talon_one_management_key=talon_one_management_key,
        voucherify_requests_per_minute=voucherify_requests_per_minute,
        talon_one_requests_per_minute=talon_one_requests_per_minute,
        management_requests_per_second=management_requests_per_second,
        async_action_seconds=async_action_seconds,
    )
    if voucherify_port and voucherify_port == talon_one_port:
        raise typer.BadParameter(
            "each simulator needs a port of its own (or 0 for a free one)",
            param_hint="--talon-one-port",
        )
    try:
        server = Sandbox(settings, host, voucherify_port, talon_one_port)
    except OSError as error:
        ports = f"--voucherify-port {voucherify_port}, --talon-one-port {talon_one_port}"
        reason = listen_error(error, host)
        typer.echo(f"sandbox: cannot listen on {host} ({ports}): {reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"VOUCHERIFY_BASE_URL={server.voucherify_url}")
    typer.echo(f"TALON_ONE_BASE_URL={server.talon_one_url}")
    typer.echo(f"sandbox ready: {customers} customers, seed {seed}; Ctrl-C stops it", err=True)
    server.run_forever()


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
