"""The request budget: settings, the ledger (reserved before sending, settled exactly), runs that
stop at their allowance and defer the rest, the vendor's cycle block, hourly pacing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from promosync.connectors import visits
from promosync.connectors.budget import BudgetSettings, hour_seconds
from promosync.connectors.errors import BudgetSpent
from promosync.connectors.http import ConfigError, CycleBlocked, RateLimiter
from promosync.connectors.ratelimit import MAX_BLOCK
from promosync.connectors.spending import BLOCK, Spending, account_of, cycle_spent
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.streams import ACTIVITIES

from tests.reliability import runs
from tests.reliability.cli import small

APP_ID = "sandbox-app-id"


def served(admin) -> int:
    """Requests the sandbox served (and would bill) in its current cycle."""
    return admin.get("/_sandbox/stats").json()["quota"]["by_app_id"][APP_ID]["cycle"]["count"]


def blocked(admin) -> dict[str, int]:
    return admin.get("/_sandbox/stats").json()["quota"]["by_app_id"][APP_ID]["cycle"]["blocked"]


def budgeted(client, warehouse, stream: str, settings: BudgetSettings, run_id: str = "run-1"):
    """`client` keeping `settings` through the ledger of `warehouse`, as a pull step does."""
    spending = Spending(warehouse, settings, account_of(client.base_url, APP_ID), stream, run_id)
    client.spending = spending
    return spending


def ledger(warehouse) -> int:
    """Requests the ledger counts, settled and reserved, every run."""
    sql = "SELECT COALESCE(SUM(requests + reserved), 0) AS n FROM request_ledger"
    return int(warehouse.query(sql)[0]["n"])


# --- settings ---------------------------------------------------------------------------------


def test_plans_give_the_documented_limits_and_the_environment_fills_what_is_unset():
    assert BudgetSettings(plan="business").limits == (100, 0, 100_000)
    assert BudgetSettings(plan="organization").limits == (2_000, 0, 300_000)
    assert BudgetSettings(plan="sandbox").limits == (0, 100, 0)
    settings = BudgetSettings.from_env(
        {"PROMOSYNC_VOUCHERIFY_PLAN": " Business ", "PROMOSYNC_VOUCHERIFY_SHARE": "0.3"},
        requests_per_cycle=50_000,
    )
    assert (settings.limits.per_cycle, settings.share) == (50_000, 0.3)
    assert settings.cap() == 15_000
    # The rolling sweep: a week by default (an hourly run's slice 1/168 of the customers),
    # stretched where re-verifying would cost more than a quarter of the share (3,750 here).
    assert settings.sweep_period(2_000) == timedelta(days=16)
    assert settings.sweep_period(500) == timedelta(days=7)
    assert BudgetSettings(plan="organization").sweep_period(100_000) == timedelta(days=200)
    assert BudgetSettings().sweep_period(100_000) == timedelta(days=7)  # no cycle quota
    sweep = BudgetSettings.from_env({"PROMOSYNC_VOUCHERIFY_SWEEP_DAYS": "2.5"})
    assert sweep.sweep_period(100_000) == timedelta(days=2.5)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PROMOSYNC_VOUCHERIFY_PLAN": "gold"}, "field budget.plan.: 'gold' is not a plan"),
        ({"PROMOSYNC_VOUCHERIFY_SHARE": "20%"}, "PROMOSYNC_VOUCHERIFY_SHARE='20%' is not a"),
        ({"PROMOSYNC_VOUCHERIFY_SHARE": "1.5"}, "must be a fraction from 0 to 1"),
        ({"PROMOSYNC_VOUCHERIFY_CYCLE_START_DAY": "31"}, "must be a day from 1 to 28"),
        ({"PROMOSYNC_VOUCHERIFY_REQUESTS_PER_CYCLE": "-5"}, "must be a whole number"),
        ({"PROMOSYNC_VOUCHERIFY_SWEEP_DAYS": "-7"}, "SWEEP_DAYS .* must be days > 0"),
        ({"PROMOSYNC_VOUCHERIFY_SWEEP_DAYS": "a week"}, "SWEEP_DAYS='a week' is not a number"),
        (
            {"PROMOSYNC_VOUCHERIFY_CYCLE_SECONDS": "60", "PROMOSYNC_VOUCHERIFY_CYCLE_START": "x"},
            "is not an ISO 8601 instant",
        ),
    ],
)
def test_a_bad_budget_setting_is_one_line_naming_its_variable(environ, message):
    with pytest.raises(ConfigError, match=message) as error:
        BudgetSettings.from_env(environ)
    assert "\n" not in str(error.value)


def test_cycles_follow_the_start_day_or_a_compressed_clock():
    settings = BudgetSettings(plan="business", cycle_start_day=15)
    start, end = settings.cycle(datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 2, 15, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC))
    compressed = BudgetSettings(cycle_seconds=900, cycle_start="2026-01-01T00:00:00Z")
    start, end = compressed.cycle(datetime(2026, 1, 1, 0, 20, tzinfo=UTC))
    assert (start.minute, end.minute) == (15, 30)
    assert hour_seconds(BudgetSettings(plan="sandbox", cycle_seconds=720)) == 1.0


def test_the_share_left_is_spread_over_the_runs_left_so_the_last_days_are_not_starved():
    settings = BudgetSettings(plan="business", runs_per_cycle=30)  # 20,000 a cycle, daily runs
    cycle_start = datetime(2026, 3, 1, tzinfo=UTC)
    assert settings.allowance(0, cycle_start) == 20_000 // 30
    # With 10 of 31 days left and 18,000 spent, the 2,000 left go 1/10 a day, not at once.
    late = datetime(2026, 3, 22, tzinfo=UTC)
    assert settings.allowance(18_000, late) == 2_000 // 10
    assert settings.allowance(20_000, late) == 0
    # A first load takes what is left of its own share at once; no cycle quota: no allowance.
    assert settings.allowance(18_000, late, first_load=True) == 50_000 - 18_000
    assert BudgetSettings(plan="sandbox").allowance(0, late) is None


# --- the ledger and the allowance, against the sandbox ----------------------------------------


def test_after_a_normal_end_the_ledger_equals_the_requests_sent(
    client, warehouse, voucherify_admin
):
    organization = BudgetSettings(plan="organization")
    spending = budgeted(client, warehouse, "voucherify_customers", organization)
    report = sync.sync_customers(client, warehouse)
    spending.settle(final=True)
    assert report.warning is None
    assert ledger(warehouse) == spending.sent == client.counters.requests
    assert ledger(warehouse) == served(voucherify_admin)
    assert ledger(warehouse) == cycle_spent(warehouse, spending.account, spending.cycle_start)


def test_a_run_with_zero_allowance_sends_nothing_and_succeeds_with_everything_deferred(
    client, warehouse, voucherify_admin
):
    sync.sync_customers(client, warehouse)  # unbudgeted: the customers are known
    before = served(voucherify_admin)
    nothing = BudgetSettings(plan="business", share=0.0)
    budgeted(client, warehouse, ACTIVITIES.name, nothing)
    report = sync.sync_activities(client, warehouse)
    assert served(voucherify_admin) == before and report.requests == 0
    assert "allowance of 0 requests is spent" in report.warning
    assert report.deferred == 300 == visits.deferred(warehouse, ACTIVITIES.name)
    assert ledger(warehouse) == 0


def test_a_cut_off_activities_run_never_repeats_a_finished_visit(
    client, warehouse, voucherify_admin
):
    sync.sync_customers(client, warehouse)
    customers, sent = served(voucherify_admin), 0
    paths: list[str] = []
    send = client.transport

    def recording(method, url, body, headers):
        paths.append(url.split("?")[0])
        return send(method, url, body, headers)

    client.transport = recording
    # 20,000 a cycle x 0.2 over 40 runs: ~100 requests a run.
    settings = BudgetSettings(requests_per_cycle=20_000, runs_per_cycle=40)
    runs, finished = 0, set()
    while True:
        runs += 1
        paths.clear()
        budgeted(client, warehouse, ACTIVITIES.name, settings, run_id=f"run-{runs}")
        report = sync.sync_activities(client, warehouse)
        client.spending.settle(final=True)
        sent += len(paths)
        visited = {path.split("/")[-2] for path in paths if path.endswith("/activity")}
        assert not visited & finished  # a visit committed by an earlier run is never repeated
        finished = {
            row["entity_id"]
            for row in warehouse.query("SELECT entity_id FROM visit_queue WHERE owed_since IS NULL")
        }
        if not report.deferred:
            assert report.warning is None
            break
        assert "allowance" in report.warning and report.requests <= client.spending.allowance
        assert runs < 10
    assert runs > 2  # the budget did cut the work
    assert len(finished) == 300
    truth = voucherify_admin.get("/_sandbox/truth/activities").json()
    rows = warehouse.query(f"SELECT id FROM {ACTIVITIES.name}")
    assert sorted(row["id"] for row in rows) == sorted(activity["id"] for activity in truth)
    assert ledger(warehouse) == sent == served(voucherify_admin) - customers


def test_an_api_calls_cycle_429_ends_the_run_at_once_with_its_visits_committed(
    client, warehouse, voucherify_admin
):
    sync.sync_customers(client, warehouse)
    quota = served(voucherify_admin) + 40
    voucherify_admin.put(
        "/_sandbox/config", json={"voucherify_requests_per_cycle": quota}
    ).raise_for_status()
    spent = r"billing cycle are spent \(429 api_calls_cycle\)"
    with pytest.raises(CycleBlocked, match=spent) as error:
        sync.sync_activities(client, warehouse)
    assert "\n" not in str(error.value)
    assert client.counters.retries == 0
    assert blocked(voucherify_admin)["api_calls_cycle"] <= 4  # one per visit in flight at most
    assert client.counters.requests <= quota + 4
    # Every visit the vendor served is committed: the next cycle resumes with the others.
    done = 300 - visits.deferred(warehouse, ACTIVITIES.name)
    assert done >= 40 - 4


# A DuckDB file admits one process at a time: the test is PostgreSQL's only.
@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)
def test_two_processes_sharing_one_budget_stay_within_it(warehouse):
    context = runs.preloaded_context()
    processes = [
        context.Process(target=runs.spend_budget, args=(warehouse.url, f"run-{n}"))
        for n in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    rows = warehouse.query("SELECT run_id, requests, reserved FROM request_ledger")
    assert sum(row["requests"] for row in rows) == 500  # the share: 0.5 of 1,000
    assert all(row["reserved"] == 0 and row["requests"] > 0 for row in rows) and len(rows) == 2


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)
def test_after_a_sigkill_the_ledger_counts_every_request_served_and_at_most_a_block_more(
    sandbox, warehouse, voucherify_admin
):
    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 40}).raise_for_status()
    context = runs.preloaded_context()
    context.Process(target=runs.ready).start()
    counted, billed = 0, 0
    for delay in (0.2, 0.5, 0.9, 1.3):
        process = context.Process(
            target=runs.pull_voucherify_budgeted, args=(sandbox.voucherify_url, warehouse.url)
        )
        process.start()
        process.join(delay)
        assert process.exitcode is None, f"the run ended before its kill at {delay} s"
        process.kill()
        process.join(10)
        time.sleep(0.1)  # requests in flight reach the sandbox
        spent, served_now = ledger(warehouse), served(voucherify_admin)
        assert 0 <= (spent - counted) - (served_now - billed) <= BLOCK, f"killed after {delay} s"
        counted, billed = spent, served_now
    assert billed > 0
    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
    runs.pull_voucherify_budgeted(sandbox.voucherify_url, warehouse.url)  # to completion
    assert ledger(warehouse) - counted == served(voucherify_admin) - billed


# --- pacing -----------------------------------------------------------------------------------


def test_a_sandbox_project_s_hourly_budget_meets_no_429(client, warehouse, voucherify_admin):
    # 100 calls an hour, the hour compressed to one real second (a 720-second cycle).
    voucherify_admin.put(
        "/_sandbox/config",
        json={
            "voucherify_plan": "sandbox", "voucherify_requests_per_minute": None,
            "voucherify_cycle_seconds": 720, "voucherify_compress_windows": True,
        },
    ).raise_for_status()  # fmt: skip
    settings = BudgetSettings(plan="sandbox", cycle_seconds=720)
    client.limiter = RateLimiter(None, per_hour=100, hour=hour_seconds(settings))
    sync.sync_customers(client, warehouse)
    # Segments read per customer: a fan-out of 300 requests, paced to the hour.
    report = sync.sync_segments(client, warehouse, concurrency=4, source="per_customer")
    assert report.deferred == 0
    assert blocked(voucherify_admin) == {"api_calls": 0, "bulk_api_calls": 0, "api_calls_cycle": 0}
    assert client.counters.rate_limited == 0


def test_the_limiter_reads_an_hourly_window_from_the_headers():
    limiter = RateLimiter(None)
    reset = datetime.now(UTC).timestamp() + 1800  # the window ends half an hour away
    limiter.observe_headers(
        {"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Remaining": "60",
         "X-Rate-Limit-Retry": str(int(reset))}
    )  # fmt: skip
    assert limiter.rate is not None and limiter.rate * 3600 < 100
    minute = RateLimiter(None)
    minute.observe_headers(
        {"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Remaining": "60",
         "X-Rate-Limit-Retry": str(int(datetime.now(UTC).timestamp() + 30))}
    )  # fmt: skip
    assert minute.rate == pytest.approx(100 / 60)


def test_a_cycle_block_is_never_slept_through():
    limiter = RateLimiter(None)
    limiter.observe_headers(
        {"X-Rate-Limit-Type": "api_calls_cycle", "Retry-After": "864000",
         "X-Rate-Limit-Limit": "100000", "X-Rate-Limit-Remaining": "0"}
    )  # fmt: skip
    limiter.acquire()  # returns at once: the client stops the run instead
    limiter.observe_headers({"Retry-After": "864000"})  # any other block: capped
    assert limiter._blocked_until - time.monotonic() <= MAX_BLOCK


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)
def test_two_talon_one_syncs_sharing_one_key_share_its_pace(sandbox, warehouse, talon_one_admin):
    small(sandbox, 60, management_requests_per_second=3)
    context = runs.preloaded_context()
    answers = context.Queue()
    processes = [
        context.Process(
            target=runs.talon_one_snapshots_paced,
            args=(sandbox.talon_one_url, warehouse.url, answers),
        )
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    counts = [answers.get(timeout=5) for _ in processes]
    assert all(requests > 0 for requests, _ in counts)
    assert [limited for _, limited in counts] == [0, 0], counts


def test_a_push_is_counted_in_the_ledger_but_not_cut_off_by_the_pulls_allowance(
    sandbox, client, warehouse, voucherify_admin, tmp_path, monkeypatch
):
    from promosync.pipelines.cli import app
    from typer.testing import CliRunner

    from tests.reliability.pushing import metadata_file, push_env

    # The pulls' whole share is spent: a push still goes (it is the user's own business), and
    # what it sends counts in the cycle the next pulls plan from.
    budgeted(client, warehouse, "voucherify_customers", BudgetSettings(requests_per_cycle=10))
    with pytest.raises(BudgetSpent):
        for _ in range(20):
            client.get_json("/v1/customers", params={"limit": 1})
    client.spending.settle(final=True)
    env = {**push_env(sandbox, warehouse.url), "PROMOSYNC_VOUCHERIFY_REQUESTS_PER_CYCLE": "10"}
    before, pulled = served(voucherify_admin), ledger(warehouse)
    upload = metadata_file(tmp_path / "m.csv", [f"source_{n}" for n in range(1, 6)])

    result = CliRunner().invoke(app, ["push", "metadata", "--file", str(upload)], env=env)

    assert result.exit_code == 0, result.output
    sent = served(voucherify_admin) - before
    assert sent >= 2  # the bulk request and its poll
    pushed = warehouse.query(
        "SELECT requests, reserved FROM request_ledger WHERE stream = 'voucherify_push_metadata'"
    )
    assert pushed == [{"requests": sent, "reserved": 0}]
    assert ledger(warehouse) == pulled + sent
