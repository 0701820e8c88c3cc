"""Benchmark what the Voucherify quota adds to each sandbox request: `VoucherifyQuota.charge`.

`.venv/bin/python bench/quota_charge_cost.py`: microseconds per charge (and its headers), best of
five, under each kind of budget, beside what the sandbox did before quotas existed (one fixed
minute window). In-process and single-threaded, so a loaded machine disturbs it far less than the
page throughput of bench/sandbox_throughput.py, whose pages cost ~300-400 us of sandbox CPU each.
"""

from __future__ import annotations

import time
import timeit

from promosync.sandbox.limits import FixedWindow
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify.quota import VoucherifyQuota, rate_headers

HUGE = 10**9  # budgets that are counted but never reached
CASES = {
    "no budget": {"voucherify_plan": "unlimited"},
    "a minute budget": {"voucherify_requests_per_minute": HUGE},
    "minute, hour and cycle": {
        "voucherify_plan": "organization",
        "voucherify_requests_per_minute": HUGE,
        "voucherify_requests_per_hour": HUGE,
        "voucherify_requests_per_cycle": HUGE,
    },
}


def best_of_five(call, calls: int) -> float:
    """Microseconds per call, the best of five runs."""
    return min(timeit.repeat(call, number=calls, repeat=5)) / calls * 1e6


def main() -> None:
    calls = 200_000
    window = FixedWindow()
    before = best_of_five(lambda: rate_headers(window.hit("app", HUGE, time.time())), calls)
    print(f"before quotas, one minute window: {before:.2f} us per request")
    for name, settings in CASES.items():
        quota = VoucherifyQuota(SandboxSettings(**settings), time.time())
        charge = quota.charge
        cost = best_of_five(lambda charge=charge: rate_headers(charge("app", time.time())), calls)
        print(f"{name}: {cost:.2f} us per request")


if __name__ == "__main__":
    main()
