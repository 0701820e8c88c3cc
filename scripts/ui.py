"""`make ui`: the Dagster UI on the demo warehouse, with the sandbox serving both APIs.

Starts the sandbox as `make demo` does, then `dagster dev` (webserver and daemon) with the
sandbox's URLs and credentials in its environment, `WAREHOUSE_URL` on .promosync/demo.duckdb
and `DAGSTER_HOME` on .dagster/, where the top-level dagster.yaml is copied (runs are kept
there, private to the user). Prints the URL and
serves until Ctrl-C, which stops the UI and then the sandbox.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from demo import CREDENTIALS, WAREHOUSE_FILE, start_sandbox

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
START_SECONDS = 120
STOP_SECONDS = 60


def dagster_home() -> Path:
    """.dagster/ with the repository's dagster.yaml in it (copied at each start, so an edit of
    the top-level file takes effect on the next `make ui`)."""
    home = REPO / ".dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    return home


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> bool:
    """Poll the webserver until it answers; False if `dagster dev` exits or takes too long."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    return False


def stop(process: subprocess.Popen, name: str, interrupt: signal.Signals, group: bool) -> None:
    """Ask a child to stop with `interrupt`; past STOP_SECONDS kill it (and its group if asked)."""
    if process.poll() is None:
        process.send_signal(interrupt)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"{name} did not stop within {STOP_SECONDS} s; killing it", file=sys.stderr)
        if group:  # its webserver, daemon and code servers too
            os.killpg(process.pid, signal.SIGKILL)
        process.kill()
        process.wait()


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM ends the UI as Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    parser.add_argument("--customers", type=int, default=500, help="sandbox customers (500)")
    args = parser.parse_args()

    os.chdir(REPO)
    os.umask(os.umask(0o077) | 0o077)  # the warehouse and Dagster's storage: this user's only
    port = args.port
    if not port_is_free(port):
        port = free_port()
        print(f"port {args.port} is taken; the UI uses {port}")
    WAREHOUSE_FILE.parent.mkdir(exist_ok=True)
    # Ctrl-C and SIGTERM end the UI, even when started with SIGINT ignored (in the background);
    # the children inherit the default handling.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupted)

    home = dagster_home()
    sandbox, urls = start_sandbox(customers=args.customers)
    env = {
        **os.environ,
        **urls,
        **CREDENTIALS,
        "WAREHOUSE_URL": f"duckdb:///{WAREHOUSE_FILE}",
        "DAGSTER_HOME": str(home),
    }
    url = f"http://127.0.0.1:{port}"
    # Its own session: Ctrl-C reaches `dagster dev` once, from here, and it shuts down cleanly.
    dagster = subprocess.Popen(
        [
            str(DAGSTER),
            "dev",
            "-m",
            "promosync.pipelines.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        start_new_session=True,
    )
    try:
        if not wait_until_serving(url, dagster):
            raise SystemExit(f"the Dagster UI did not start on {url}; see the log above")
        if not WAREHOUSE_FILE.exists():
            print(f"{WAREHOUSE_FILE} is empty: materialize assets in the UI, or run `make demo`")
        print(
            f"\n  Dagster UI:   {url}   (asset graph: {url}/asset-groups)\n"
            f"  sandbox:      {urls['VOUCHERIFY_BASE_URL']} (Voucherify), "
            f"{urls['TALON_ONE_BASE_URL']} (Talon.One)\n"
            f"  warehouse:    {WAREHOUSE_FILE}\n"
            "  Ctrl-C stops the UI and the sandbox.\n",
            flush=True,
        )
        dagster.wait()
    except KeyboardInterrupt:
        print("\nstopping the Dagster UI and the sandbox …", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown
        stop(dagster, "dagster dev", signal.SIGINT, group=True)
        stop(sandbox, "the sandbox", signal.SIGTERM, group=False)
    print("the UI and the sandbox are stopped")


if __name__ == "__main__":
    main()
