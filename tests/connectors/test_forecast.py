"""The forecast of requests per billing cycle: the default schedules against the default share,
what to slow down when they do not fit, and a first load's cycles. Offline: declarations only."""

from __future__ import annotations

from promosync.connectors.budget import BudgetSettings
from promosync.connectors.forecast import Job, Workload, backfill, first_load, forecast
from promosync.connectors.voucherify.streams import ACTIVITIES, CUSTOMERS, SEGMENTS, STREAMS

ORGANIZATION = BudgetSettings(plan="organization")  # 300,000 a cycle, 20 %: 60,000
EVERY = tuple(STREAMS.values())
HOURLY = Job("voucherify_pull_hourly", 720, EVERY)
NIGHTLY = Job("voucherify_reconcile_nightly", 30, (CUSTOMERS,), reconcile=True)
WEEKLY_SWEEP = Job("voucherify_full_sweep_weekly", 4, EVERY[:3], full_sweep=True)


def customers(rate: float, **given) -> Workload:
    return Workload(100_000, rate, campaigns=3, **given)


def test_the_default_schedules_fit_an_organization_share_at_1_percent_a_day():
    result = forecast([HOURLY, NIGHTLY], customers(0.01), ORGANIZATION)
    assert result.fits and result.advice == []
    reverified = [line for line in result.lines if line.kind == "reverify"]
    # The rolling sweep's default pace: every customer within 200 days, a quarter of the share.
    assert [(line.stream, line.per_cycle) for line in reverified] == [
        (f"{ACTIVITIES.name} (re-verification)", 15_000)
    ]
    segments = next(line for line in result.lines if line.stream == SEGMENTS.name)
    assert segments.per_cycle == 3 * 720  # from the activity's events, a sample of 3 a run
    assert result.total <= 60_000


def test_at_2_percent_a_day_the_activity_reads_alone_take_the_whole_share():
    result = forecast([HOURLY, NIGHTLY], customers(0.02), ORGANIZATION)
    activity = next(line for line in result.lines if line.stream == ACTIVITIES.name)
    assert activity.per_cycle == 60_000 == result.cap
    assert not result.fits and result.over == result.total - 60_000
    (advice,) = result.advice
    assert "no cadence fits" in advice and "changed customers alone cost 6" in advice


def test_segment_reads_per_changed_customer_do_not_fit_and_the_forecast_says_why():
    result = forecast([HOURLY, NIGHTLY], customers(0.01, segment_reads=1.0), ORGANIZATION)
    assert not result.fits
    (advice,) = result.advice
    assert "changed customers alone cost 60,003 (100% of the share)" in advice


def test_a_weekly_full_sweep_is_named_to_turn_off_when_the_rest_fits():
    workload = customers(0.01)
    without = forecast([HOURLY, NIGHTLY], workload, ORGANIZATION).total
    result = forecast([HOURLY, NIGHTLY, WEEKLY_SWEEP], workload, ORGANIZATION)
    assert result.total >= 400_000  # 4 sweeps of 100,000 activity reads
    assert result.advice == [
        f"turn voucherify_full_sweep_weekly off: {without:,} of 60,000 without it"
    ]


def test_a_schedule_whose_runs_cost_too_much_is_slowed_by_the_smallest_factor_that_fits():
    many = Workload(10_000, 0.001, campaigns=40, reverify_per_cycle=0)  # 41 requests a run
    business = BudgetSettings(plan="business")  # 20,000
    result = forecast([HOURLY], many, business)
    assert not result.fits  # 720 runs x ~42 = ~30,000
    (advice,) = result.advice
    assert advice.startswith("run voucherify_pull_hourly 2x less often (360 runs a cycle)")
    assert forecast([Job(HOURLY.schedule, 360, EVERY)], many, business).fits


def test_a_first_load_of_100000_customers_takes_a_business_cycle_s_whole_quota_in_activity():
    business = BudgetSettings(plan="business")  # first-load share 50 %: 50,000 a cycle
    load = first_load(EVERY, customers(0.01), business)
    by_stream = {stream: requests for stream, requests, _ in load.lines}
    assert by_stream[ACTIVITIES.name] == 100_000 == business.limits.per_cycle
    assert by_stream[CUSTOMERS.name] < 10  # an export
    assert load.total < 100_100 and load.cycles == 3  # segments come from the activity read
    assert first_load(EVERY, customers(0.01), BudgetSettings(plan="sandbox")).cycles is None
    assert backfill(50_000, business).total < 10 and backfill(50, business).total == 1
