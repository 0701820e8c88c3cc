"""The `promosync` command line."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."
)


@app.callback()
def main() -> None:
    """promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."""


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address both servers listen on."),
    voucherify_port: int = typer.Option(
        0, help="Port of the Voucherify simulator (0: a free one)."
    ),
    talon_one_port: int = typer.Option(0, help="Port of the Talon.One simulator (0: a free one)."),
    customers: int = typer.Option(1000, min=0, help="Number of Voucherify customers generated."),
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
    from sandbox.server import Sandbox
    from sandbox.settings import SandboxSettings

    settings = SandboxSettings(
        seed=seed,
        customers=customers,
        voucherify_app_id=voucherify_app_id,
        voucherify_app_token=voucherify_app_token,
        talon_one_api_key=talon_one_api_key,
        talon_one_management_key=talon_one_management_key,
        voucherify_requests_per_minute=voucherify_requests_per_minute,
        talon_one_requests_per_minute=talon_one_requests_per_minute,
        management_requests_per_second=management_requests_per_second,
        async_action_seconds=async_action_seconds,
    )
    server = Sandbox(settings, host, voucherify_port, talon_one_port)
    typer.echo(f"VOUCHERIFY_BASE_URL={server.voucherify_url}")
    typer.echo(f"TALON_ONE_BASE_URL={server.talon_one_url}")
    typer.echo(f"sandbox ready: {customers} customers, seed {seed}; Ctrl-C stops it", err=True)
    server.run_forever()


if __name__ == "__main__":
    app()
