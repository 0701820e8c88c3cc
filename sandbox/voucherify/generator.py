"""Activity that happens on its own while the sandbox runs, at `voucherify_activity_per_minute`."""

from __future__ import annotations

import random

from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify.effects import log_activity
from promosync.sandbox.voucherify.state import VoucherifyState

MINUTE_US = 60_000_000


class ActivityGenerator:
    """Logs activity of any kind, with its effects, on random customers as wall time passes.

    Which customers and kinds follow from the seed; when they happen follows the clock: the
    events due at the rate since it was set (since the last request before the change, which
    is when the sandbox can first see it) are logged at each request, stamped with its time.
    """

    def __init__(self, seed: int) -> None:
        self.random = random.Random(f"generator-{seed}")
        self._rate = 0.0
        self._since_us = 0
        self._logged = 0
        self._last_us: int | None = None

    def settle(self, state: VoucherifyState, settings: SandboxSettings, now: int) -> int:
        """Log the events due by `now`; return how many."""
        rate = settings.voucherify_activity_per_minute
        if rate != self._rate:
            since = now if self._last_us is None else self._last_us
            self._rate, self._since_us, self._logged = rate, since, 0
        self._last_us = now
        if rate <= 0 or not state.store.by_id:
            return 0
        due = int((now - self._since_us) * rate // MINUTE_US) - self._logged
        ids = sorted(state.store.by_id) if due > 0 else []
        for _ in range(max(0, due)):
            customer = state.store.by_id[self.random.choice(ids)]
            log_activity(state, settings, customer, "any", now, self.random)
        self._logged += max(0, due)
        return max(0, due)
