"""The request budget of a Voucherify project: its plan's limits, its billing cycles, and the
allowance one run may spend so that promosync never takes more than its share of a cycle.

Voucherify bills and blocks by API calls per billing cycle ("Exceeding this limit will block your
access to the API immediately", guides/limits.mdx), a budget shared with the user's own live
traffic. promosync spends only `share` of it, spread over the cycle's remaining runs so the last
days are not starved. Plain Python (no Dagster): the resource, the CLI and the tests read it alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from promosync.connectors.errors import ConfigError


class Plan(NamedTuple):
    """A plan's documented limits; 0 is none."""

    per_minute: int
    per_hour: int
    per_cycle: int


PLANS = {
    "business": Plan(100, 0, 100_000),
    "organization": Plan(2_000, 0, 300_000),
    "sandbox": Plan(0, 100, 0),  # a Sandbox project: 100 calls an hour, fixed; no cycle quota
    "unlimited": Plan(0, 0, 0),
}
DEFAULT_SHARE = 0.2
DEFAULT_FIRST_LOAD_SHARE = 0.5
THIRTY_DAYS = 30 * 86_400
DEFAULT_RUNS_PER_CYCLE = 720  # the hourly pull schedule over a 30-day cycle
# By default every customer's activity is re-verified within a week (an hourly run's slice is
# 1/168 of the customers: 0.6 %), a period stretched where a cycle quota cannot afford it, so
# that re-verifying costs at most REVERIFY_OF_SHARE of the routine share a cycle (at 100,000
# customers on an Organization plan: 15,000 a cycle, every customer within 200 days).
DEFAULT_SWEEP_DAYS = 7.0
REVERIFY_OF_SHARE = 0.25
DAYS_PER_CYCLE = 30

# Each setting's variable; one place, so the environment is read the same way everywhere.
ENVIRONMENT = {
    "plan": "PROMOSYNC_VOUCHERIFY_PLAN",
    "requests_per_cycle": "PROMOSYNC_VOUCHERIFY_REQUESTS_PER_CYCLE",
    "requests_per_hour": "PROMOSYNC_VOUCHERIFY_REQUESTS_PER_HOUR",
    "share": "PROMOSYNC_VOUCHERIFY_SHARE",
    "first_load_share": "PROMOSYNC_VOUCHERIFY_FIRST_LOAD_SHARE",
    "cycle_start_day": "PROMOSYNC_VOUCHERIFY_CYCLE_START_DAY",
    "runs_per_cycle": "PROMOSYNC_VOUCHERIFY_RUNS_PER_CYCLE",
    "cycle_seconds": "PROMOSYNC_VOUCHERIFY_CYCLE_SECONDS",
    "cycle_start": "PROMOSYNC_VOUCHERIFY_CYCLE_START",
    "sweep_days": "PROMOSYNC_VOUCHERIFY_SWEEP_DAYS",
}


def describe(name: str) -> str:
    """A setting as a message names it: its variable and the resource field that also sets it."""
    return f"{ENVIRONMENT[name]} (resource field budget.{name})"


@dataclass(frozen=True)
class BudgetSettings:
    """What promosync may spend of a Voucherify project's requests.

    `plan` gives the documented limits (empty: only the explicit numbers); `requests_per_cycle`
    and `requests_per_hour` override it. `share` of each cycle is promosync's for routine runs,
    `first_load_share` for a first load or a backfill. Cycles start on `cycle_start_day` (1 to 28)
    of each month at 00:00 UTC, or, with `cycle_seconds` (compressed clocks for tests and
    benchmarks), last that many seconds from the instant `cycle_start`. `runs_per_cycle` is how
    many scheduled runs share a cycle (default: hourly). `sweep_days`: the period within which
    the rolling sweep re-verifies every customer's activity, a slice per run (connectors/visits.py).
    """

    plan: str = ""
    requests_per_cycle: int = 0
    requests_per_hour: int = 0
    share: float = DEFAULT_SHARE
    first_load_share: float = DEFAULT_FIRST_LOAD_SHARE
    cycle_start_day: int = 1
    runs_per_cycle: int = DEFAULT_RUNS_PER_CYCLE
    cycle_seconds: float = 0.0
    cycle_start: str = ""
    sweep_days: float = 0.0  # 0: DEFAULT_SWEEP_DAYS, stretched to what the share affords

    def __post_init__(self) -> None:
        if self.plan not in ("", *PLANS):
            raise ConfigError(
                f"{describe('plan')}: {self.plan!r} is not a plan; use one of"
                f" {', '.join(PLANS)}, or leave it empty and give requests_per_cycle"
            )
        for name in ("requests_per_cycle", "requests_per_hour", "runs_per_cycle"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{describe(name)} must be a whole number ≥ 0, not {value!r}")
        for name in ("share", "first_load_share"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise ConfigError(f"{describe(name)} must be a fraction from 0 to 1, e.g. 0.2")
        if not (isinstance(self.cycle_start_day, int) and 1 <= self.cycle_start_day <= 28):
            raise ConfigError(
                f"{describe('cycle_start_day')} must be a day from 1 to 28 (the day of the month"
                f" your billing cycle starts), not {self.cycle_start_day!r}"
            )
        if not (math.isfinite(self.cycle_seconds) and self.cycle_seconds >= 0):
            raise ConfigError(f"{describe('cycle_seconds')} must be seconds ≥ 0")
        days = self.sweep_days
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days < 3650:
            raise ConfigError(
                f"{describe('sweep_days')} must be days > 0, e.g. 7 (or 0: the default), not"
                f" {days!r}"
            )
        self.anchor()  # a bad instant fails here, before any request

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: Any) -> BudgetSettings:
        """Each setting from `given` if set (not None), else its variable, else the default."""
        if unknown := set(given) - set(ENVIRONMENT):
            raise TypeError(f"no such budget setting: {', '.join(sorted(unknown))}")
        environ = os.environ if environ is None else environ
        kinds = {field.name: field.type for field in fields(cls)}
        values: dict[str, Any] = {}
        for name, variable in ENVIRONMENT.items():
            if given.get(name) is not None:
                values[name] = given[name]
            elif text := environ.get(variable, "").strip():
                values[name] = _parse(text, variable, kinds[name])
        if isinstance(values.get("plan"), str):
            values["plan"] = values["plan"].strip().lower()
        return cls(**values)

    @property
    def limits(self) -> Plan:
        """The limits in force: the plan's, with the explicit numbers over them."""
        plan = PLANS.get(self.plan, Plan(0, 0, 0))
        return Plan(
            plan.per_minute,
            self.requests_per_hour or plan.per_hour,
            self.requests_per_cycle or plan.per_cycle,
        )

    def anchor(self) -> datetime | None:
        """The instant compressed cycles count from (None: calendar cycles)."""
        if not self.cycle_seconds:
            return None
        if not self.cycle_start:
            return datetime(2000, 1, 1, tzinfo=UTC)
        try:
            instant = datetime.fromisoformat(self.cycle_start.replace("Z", "+00:00"))
        except ValueError:
            instant = None
        if instant is None or instant.tzinfo is None:
            raise ConfigError(
                f"{describe('cycle_start')}={self.cycle_start!r} is not an ISO 8601 instant with"
                " a zone, e.g. 2026-01-05T09:00:00Z"
            )
        return instant

    def cycle(self, now: datetime) -> tuple[datetime, datetime]:
        """The billing cycle `now` falls in: its start and its end."""
        anchor = self.anchor()
        if anchor is not None:
            length = timedelta(seconds=self.cycle_seconds)
            start = anchor + length * math.floor((now - anchor) / length)
            return start, start + length
        day = self.cycle_start_day
        start = now.astimezone(UTC).replace(day=day, hour=0, minute=0, second=0, microsecond=0)
        if start > now:
            start = _months_later(start, -1)
        return start, _months_later(start, 1)

    def allowance(
        self, spent_by_others: int, now: datetime, first_load: bool = False
    ) -> int | None:
        """Requests one run may send: what is left of the cycle's share after `spent_by_others`
        (the ledger's count for the cycle, other runs), spread over the cycle's remaining runs;
        a first load or a backfill may take what is left of `first_load_share` at once.
        None: no cycle quota, no allowance to keep."""
        per_cycle = self.limits.per_cycle
        if not per_cycle:
            return None
        if first_load:
            return max(0, math.floor(per_cycle * self.first_load_share) - spent_by_others)
        left = max(0, math.floor(per_cycle * self.share) - spent_by_others)
        start, end = self.cycle(now)
        remaining = max(0.0, (end - now) / (end - start))
        runs_left = max(1, math.ceil(self.runs_per_cycle * remaining))
        return left // runs_left

    def sweep_days_for(self, customers: int) -> float:
        """The rolling sweep's period in days over `customers`: `sweep_days` if set, else a week
        stretched so that re-verifying costs at most REVERIFY_OF_SHARE of the routine share a
        cycle."""
        if self.sweep_days:
            return self.sweep_days
        affordable = REVERIFY_OF_SHARE * self.share * self.limits.per_cycle
        if affordable < 1:  # no cycle quota (or no share: the allowance holds every visit back)
            return DEFAULT_SWEEP_DAYS
        return max(DEFAULT_SWEEP_DAYS, customers * DAYS_PER_CYCLE / affordable)

    def sweep_period(self, customers: int) -> timedelta:
        """The rolling sweep's period over `customers` (shorter on a compressed cycle clock, as
        the vendor's hour is)."""
        days = self.sweep_days_for(customers)
        return timedelta(days=days) * (hour_seconds(self) / 3600.0)

    def cap(self, first_load: bool = False) -> int | None:
        """Requests promosync may spend in one cycle, over every run (None: no cycle quota)."""
        per_cycle = self.limits.per_cycle
        if not per_cycle:
            return None
        return math.floor(per_cycle * (self.first_load_share if first_load else self.share))


def _months_later(instant: datetime, months: int) -> datetime:
    index = instant.year * 12 + instant.month - 1 + months
    return instant.replace(year=index // 12, month=index % 12 + 1)


def _parse(text: str, variable: str, kind: Any) -> Any:
    kind = str(kind)
    try:
        if kind == "int":
            return int(text.replace("_", ""))
        if kind == "float":
            return float(text)
    except ValueError:
        example = "0.2" if kind == "float" else "100000"
        raise ConfigError(f"{variable}={text!r} is not a number, e.g. {example}") from None
    return text


def hour_seconds(settings: BudgetSettings) -> float:
    """The vendor's hour in real seconds: 3600, or shorter on a compressed cycle clock (a cycle
    of `cycle_seconds` standing for 30 days, as the sandbox compresses its windows)."""
    return 3600.0 * settings.cycle_seconds / THIRTY_DAYS if settings.cycle_seconds else 3600.0
