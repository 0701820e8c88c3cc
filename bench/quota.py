"""Living within a Voucherify cycle quota (issue 14), on the sandbox's compressed clock.

- `routine`: N customers first loaded without a budget, then hourly runs (a simulated hour is
  cycle_seconds / 720 real seconds) through the request ledger under Organization limits scaled
  to the dataset (300,000 x N / 100,000 a cycle), `rate` of the customers changing a day
  (`POST /_sandbox/mutate`, a `customer.updated` activity each). Reports per cycle the
  sandbox's count against promosync's share, the cycle-blocked answers, the oldest deferred
  visit in simulated hours, then drains the queue and compares the warehouse with the truth.
- `demo`: the demo's 500 customers under a Sandbox project's 100 calls an hour (compressed
  3,600x), a first load and successive runs after changes: parity and 429s each time.
- `concurrent`: two processes syncing one account at once, Voucherify (100 an hour,
  compressed) and Talon.One (Management API, 3 a second per endpoint): 429s met.

    .venv/bin/python bench/quota.py routine --customers 20000 --rate 0.01 --share 0.3
    .venv/bin/python bench/quota.py demo
    .venv/bin/python bench/quota.py concurrent
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from harness import admin, sandbox
from promosync.connectors import cycle_report, forecast, visits
from promosync.connectors.budget import BudgetSettings, hour_seconds
from promosync.connectors.cursor import format_instant
from promosync.connectors.http import RateLimiter
from promosync.connectors.spending import Spending, account_of, new_run_id
from promosync.connectors.talon_one import snapshots
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.voucherify.streams import ACTIVITIES, SEGMENTS
from promosync.connectors.voucherify.streams import STREAMS as DECLARED
from promosync.connectors.warehouse import Warehouse
from promosync.sandbox.settings import SandboxSettings

KEYS = SandboxSettings()
EVERY = tuple(DECLARED.values())
STREAMS = (
    ("voucherify_customers", sync.sync_customers),
    (ACTIVITIES.name, sync.sync_activities),
    (SEGMENTS.name, sync.sync_segments),
    ("voucherify_loyalty_transactions", sync.sync_loyalty_transactions),
)


DOWNLOADS: dict[str, str] = {}  # the sandbox's download host, by API base URL


def client_of(url: str, settings: BudgetSettings | None = None):
    """A client of the sandbox (its download host trusted), paced per hour on an hourly plan."""
    client = voucherify_client(
        url, KEYS.voucherify_app_id, KEYS.voucherify_app_token, download_url=DOWNLOADS.get(url)
    )
    if settings is not None and settings.limits.per_hour:
        client.limiter = RateLimiter(
            None, per_hour=settings.limits.per_hour, hour=hour_seconds(settings),
            shared=client.limiter.shared,
        )  # fmt: skip
    return client


def pull(url: str, store: Warehouse, settings: BudgetSettings | None) -> dict[str, Any]:
    """One scheduled run of the four streams (one run id), each through the ledger."""
    client, run_id, out = client_of(url, settings), new_run_id(), {"warnings": 0}
    for stream, function in STREAMS:
        spending = None
        if settings is not None:
            spending = Spending(store, settings, account_of(url, KEYS.voucherify_app_id), stream,
                                run_id)  # fmt: skip
            client.spending = spending
        report = function(client, store)
        if spending is not None:
            spending.settle(final=True)
        out["warnings"] += report.warning is not None
    out["requests"], out["rate_limited"] = client.counters.requests, client.counters.rate_limited
    return out


def parity(url: str, store: Warehouse) -> dict[str, bool]:
    """Warehouse against the sandbox's truth: customers, activities, segment memberships."""

    def truth(name: str) -> list[dict[str, Any]]:
        return requests.get(f"{url}/_sandbox/truth/{name}", timeout=600).json()

    customers = {(c["id"], c["updated_at"]) for c in truth("customers")}
    rows = store.query("SELECT id, updated_at FROM voucherify_customers WHERE _deleted_at IS NULL")
    mine = {(r["id"], format_instant(r["updated_at"])) for r in rows}
    activities = {a["id"] for a in truth("activities")}
    held = {r["id"] for r in store.query(f"SELECT id FROM {ACTIVITIES.name}")}
    members = {(c["customer_id"], s["id"]) for c in truth("segments") for s in c["segments"]}
    sql = f"SELECT customer_id, segment_id FROM {SEGMENTS.name} WHERE _deleted_at IS NULL"
    kept = {(r["customer_id"], r["segment_id"]) for r in store.query(sql)}
    return {"customers": customers == mine, "activities": activities == held,
            "segments": members == kept}  # fmt: skip


def trusted(urls: dict[str, str]) -> str:
    """The sandbox's Voucherify URL, its download host trusted from now on."""
    DOWNLOADS[urls["VOUCHERIFY_BASE_URL"]] = urls["VOUCHERIFY_DOWNLOAD_URL"]
    return urls["VOUCHERIFY_BASE_URL"]


def quota_stats(url: str) -> dict[str, Any]:
    return admin(url, "stats")["quota"]["by_app_id"][KEYS.voucherify_app_id]


def configure(url: str, **settings: Any) -> None:
    requests.put(f"{url}/_sandbox/config", json=settings, timeout=60).raise_for_status()


def oldest_hours(store: Warehouse, now: datetime, hour: float) -> float:
    oldest = [d.oldest for d in cycle_report.deferred_visits(store) if d.oldest]
    return max(((now - o).total_seconds() / hour for o in oldest), default=0.0)


def planned_share(args: argparse.Namespace, per_cycle: int, campaigns: int) -> float:
    """`--share`, or with `--share plan` the share `promosync plan` says the runs need at
    `--plan-rate`, with its headroom: segments from the activity's events (a sample a run), and
    re-verification at the rolling sweep's default pace, which follows the share (a quarter of
    it), so the two are settled together."""
    if args.share != "plan":
        return float(args.share)
    workload = forecast.Workload(args.customers, args.plan_rate, campaigns)
    jobs = [forecast.Job("pull", args.runs_per_cycle, EVERY)]
    share = BudgetSettings().share
    for _ in range(5):
        settings = BudgetSettings(requests_per_cycle=per_cycle, share=share)
        needed = forecast.forecast(jobs, workload, settings)
        share = math.ceil(100 * needed.total * (1 + forecast.HEADROOM) / per_cycle) / 100
    return share


def status_lines(store: Warehouse, settings: BudgetSettings, url: str, now: datetime) -> dict:
    """The cycle's spend and the deferred visits as `promosync status` prints them."""
    spend = cycle_report.account_spend(
        store, settings, account_of(url, KEYS.voucherify_app_id), now
    )
    return {
        "budget": cycle_report.budget_finding(spend, now).summary,
        "deferred": [
            cycle_report.deferred_line(d, now) for d in cycle_report.deferred_visits(store)
        ],
    }


def routine(args: argparse.Namespace) -> dict[str, Any]:
    per_cycle = 300_000 * args.customers // 100_000
    options = ("--customers", str(args.customers), "--seed", "23", "--voucherify-plan", "unlimited")
    with sandbox(*options) as urls, tempfile.TemporaryDirectory() as tmp:
        url = trusted(urls)
        store = Warehouse(f"duckdb:///{Path(tmp) / 'w.duckdb'}")
        store.create_tables()
        started = time.monotonic()
        pull(url, store, None)
        first_load = round(time.monotonic() - started, 1)
        campaigns = len(requests.get(f"{url}/_sandbox/truth/loyalty_campaigns", timeout=60).json())
        share = planned_share(args, per_cycle, campaigns)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        cycle = {"voucherify_cycle_seconds": args.cycle_seconds,
                 "voucherify_cycle_start": start.isoformat().replace("+00:00", "Z"),
                 "voucherify_compress_windows": True}  # fmt: skip
        configure(url, voucherify_plan="organization", voucherify_requests_per_cycle=per_cycle,
                  **cycle)  # fmt: skip
        settings = BudgetSettings(
            requests_per_cycle=per_cycle, share=share, runs_per_cycle=args.runs_per_cycle,
            cycle_seconds=args.cycle_seconds, cycle_start=cycle["voucherify_cycle_start"],
        )  # fmt: skip
        hour = hour_seconds(settings)
        while datetime.now(UTC) < start:
            time.sleep(0.05)
        end = start + timedelta(seconds=args.cycle_seconds * args.cycles)
        owed, done_hours, runs, warned, worst, seen = 0.0, 0, 0, 0, 0.0, {}
        tick, ticks = args.cycle_seconds / args.runs_per_cycle, 0
        while (now := datetime.now(UTC)) < end:
            due = start + timedelta(seconds=ticks * tick)  # the schedule's next run
            if now < due:
                time.sleep((due - now).total_seconds())
                continue
            ticks = math.floor((now - start).total_seconds() / tick) + 1  # late: the next tick
            if not seen and now > end - timedelta(seconds=args.cycle_seconds / 20):
                seen = status_lines(store, settings, url, now)  # as `promosync status` shows it
            hours = int((now - start).total_seconds() / hour)
            owed += (hours - done_hours) * args.customers * args.rate / 24
            done_hours = hours
            if (changes := int(owed)) > 0:
                owed -= changes
                change = {"customers": changes, "per_customer": 1, "type": "customer.updated"}
                admin(url, "mutate", {"add_activities": change})
            warned += pull(url, store, settings)["warnings"] > 0
            runs += 1
            worst = max(worst, oldest_hours(store, datetime.now(UTC), hour))
        stats = quota_stats(url)
        cycles = [*stats.get("past_cycles", []), stats["cycle"]]
        waiting = sum(d.count for d in cycle_report.deferred_visits(store))
        drain_runs = 0
        drain_end = time.monotonic() + args.drain_seconds
        while cycle_report.deferred_visits(store) and time.monotonic() < drain_end:
            pull(url, store, settings)
            drain_runs += 1
        drained_by_budget = not cycle_report.deferred_visits(store)
        if not drained_by_budget:  # the rest: unbudgeted, to show nothing was lost
            configure(url, voucherify_plan="unlimited", voucherify_requests_per_cycle=0)
            pull(url, store, None)
        result = {
            "customers": args.customers, "rate_per_day": args.rate, "share": share,
            "campaigns": campaigns,
            "per_cycle": per_cycle, "cap": settings.cap(), "cycle_seconds": args.cycle_seconds,
            "first_load_seconds": first_load, "runs": runs, "runs_with_warning": warned,
            "cycles": [(c["start"], c["count"], c["blocked"]["api_calls_cycle"]) for c in cycles],
            "cycle_start": format_instant(start), "runs_per_cycle": args.runs_per_cycle,
            "cycle_blocked": sum(c["blocked"]["api_calls_cycle"] for c in cycles),
            "oldest_deferred_hours": round(worst, 1), "deferred_at_end": waiting,
            "near_the_cycle_end": seen,
            "drain_runs": drain_runs, "drained_within_budget": drained_by_budget,
            "parity": parity(url, store),
            "deferred_after_drain": visits.deferred(store, ACTIVITIES.name),
        }  # fmt: skip
        store.dispose()
        return result


# A Sandbox project's 100 calls an hour on a clock compressed 720 times (an hour in 5 s): at
# 3,600 times (1 s) a scheduling jitter of 10 ms is 36 simulated seconds, and the first load met
# 2 429s in 1,035 requests (the pace keeps 2 requests under the hour's 100).
PROJECT_CYCLE = 3600
SANDBOX_PROJECT = ("--voucherify-plan", "sandbox", "--voucherify-cycle-seconds",
                   str(PROJECT_CYCLE), "--voucherify-compress-windows")  # fmt: skip
SANDBOX_BUDGET = BudgetSettings(plan="sandbox", cycle_seconds=PROJECT_CYCLE)


def demo(args: argparse.Namespace) -> dict[str, Any]:
    with sandbox("--customers", "500", "--seed", "42", *SANDBOX_PROJECT) as urls, \
            tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        url = trusted(urls)
        store = Warehouse(f"duckdb:///{Path(tmp) / 'w.duckdb'}")
        store.create_tables()
        runs = []
        for run in range(args.runs):
            if run:
                change = {"customers": 5, "per_customer": 1, "type": "customer.updated"}
                admin(url, "mutate", {"add_activities": change})
            started = time.monotonic()
            out = pull(url, store, SANDBOX_BUDGET)
            out["seconds"] = round(time.monotonic() - started, 1)
            out["parity"] = parity(url, store)
            runs.append(out)
        blocked = quota_stats(url)["cycle"]["blocked"]
        store.dispose()
        return {"runs": runs, "sandbox_refusals": blocked}


def _voucherify_child(urls: dict[str, str], warehouse_url: str, answers: Any) -> None:
    store = Warehouse(warehouse_url)
    store.create_tables()
    client = client_of(trusted(urls), SANDBOX_BUDGET)
    sync.sync_customers(client, store)
    sync.sync_activities(client, store, full_sweep=True)
    answers.put(("voucherify", client.counters.requests, client.counters.rate_limited))
    store.dispose()


TALON_ONE_PASSES = 20  # snapshots of programs, profiles and cards, one after the other


def _talon_one_child(urls: dict[str, str], warehouse_url: str, answers: Any) -> None:
    store = Warehouse(warehouse_url)
    store.create_tables()
    url = urls["TALON_ONE_BASE_URL"]
    t1 = talon_one_client(url, KEYS.talon_one_api_key, KEYS.talon_one_management_key,
                          management_per_second=3)  # fmt: skip
    for _ in range(TALON_ONE_PASSES):  # a few requests a pass: enough passes to meet a 429
        for function in (snapshots.sync_programs, snapshots.sync_profiles, snapshots.sync_cards):
            function(t1, store)
    counters = [t1.integration.counters, t1.management.counters]
    answers.put(("talon_one", sum(c.requests for c in counters),
                 sum(c.rate_limited for c in counters)))  # fmt: skip
    store.dispose()


def concurrent(args: argparse.Namespace) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    with sandbox("--customers", "300", *SANDBOX_PROJECT, "--management-requests-per-second",
                 "3") as urls, tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        processes = []
        for n in range(2):
            for target in (_voucherify_child, _talon_one_child):
                warehouse_url = f"duckdb:///{Path(tmp) / f'{target.__name__}-{n}.duckdb'}"
                processes.append(
                    context.Process(target=target, args=(urls, warehouse_url, answers))
                )
        started = time.monotonic()
        for process in processes:
            process.start()
        for process in processes:
            process.join(600)
        seconds = round(time.monotonic() - started, 1)
        counts = [answers.get(timeout=10) for _ in processes]
        blocked = quota_stats(urls["VOUCHERIFY_BASE_URL"])["cycle"]["blocked"]
    by_platform: dict[str, list[int]] = {}
    for platform, sent, limited in counts:
        by_platform.setdefault(platform, [0, 0])
        by_platform[platform][0] += sent
        by_platform[platform][1] += limited
    return {"seconds": seconds, "requests_and_429s": by_platform,
            "voucherify_refusals": blocked}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("routine", "demo", "concurrent"))
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=0.01, help="share changing a day")
    parser.add_argument("--share", default="0.2", help="a share, or `plan`: what plan advises")
    parser.add_argument("--plan-rate", type=float, default=0.01, help="the rate `plan` plans for")
    parser.add_argument("--cycle-seconds", type=float, default=300.0)
    parser.add_argument("--cycles", type=int, default=1)
    parser.add_argument("--runs-per-cycle", type=int, default=720, help="720: hourly")
    parser.add_argument("--drain-seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=4, help="demo: runs in all")
    args = parser.parse_args()
    scenario = {"routine": routine, "demo": demo, "concurrent": concurrent}[args.scenario]
    print(json.dumps(scenario(args), indent=1, default=str))


if __name__ == "__main__":
    main()
