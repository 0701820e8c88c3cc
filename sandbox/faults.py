"""Fault injection: the failures a connector must survive, at configurable rates."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

FAULT_KINDS = ("server_error", "rate_limited", "dropped_connection", "truncated_body")
EXPORT_FATES = ("export_error", "export_stuck")  # per Voucherify export, not per request


@dataclass
class FaultConfig:
    """Probabilities (0..1) of each fault per API request, and added latency."""

    server_error: float = 0.0  # 500/502/503 with the platform's error body
    rate_limited: float = 0.0  # 429 with Retry-After, whatever the budget says
    dropped_connection: float = 0.0  # the connection is closed before any response byte
    truncated_body: float = 0.0  # headers promise the full body; half of it arrives
    latency_ms: float = 0.0  # added before every API response
    retry_after_seconds: int = 1  # what an injected 429 asks the client to wait
    export_error: float = 0.0  # a new Voucherify export ends ERROR instead of DONE
    export_stuck: float = 0.0  # a new Voucherify export stays IN_PROGRESS for ever

    @classmethod
    def from_json(cls, payload: Any) -> FaultConfig:
        """Build from a JSON object; raise ValueError on unknown keys or out-of-range values."""
        if not isinstance(payload, dict):
            raise ValueError("faults must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(payload) - known
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {sorted(known)}")
        config = cls(**payload)
        for kind in FAULT_KINDS:
            rate = getattr(config, kind)
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(f"fault rate {kind!r} must be a number between 0 and 1")
        if sum(getattr(config, kind) for kind in FAULT_KINDS) > 1:
            raise ValueError("fault rates must add up to at most 1")
        for fate in EXPORT_FATES:
            rate = getattr(config, fate)
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(f"fault rate {fate!r} must be a number between 0 and 1")
        if config.export_error + config.export_stuck > 1:
            raise ValueError("export_error and export_stuck must add up to at most 1")
        if config.latency_ms < 0 or config.retry_after_seconds < 0:
            raise ValueError("latency_ms and retry_after_seconds must not be negative")
        return config

    def public(self) -> dict[str, Any]:
        """The config as JSON-ready data."""
        return asdict(self)


class FaultInjector:
    """Draws which fault (if any) hits the next request, reproducibly from a seed."""

    def __init__(self, seed: int) -> None:
        self.config = FaultConfig()
        self._random = random.Random(seed)
        self._exports = random.Random(f"exports-{seed}")  # leaves the request draws unchanged
        self.injected: dict[str, int] = dict.fromkeys((*FAULT_KINDS, *EXPORT_FATES), 0)

    def configure(self, config: FaultConfig) -> None:
        """Replace the fault rates."""
        self.config = config

    def draw(self) -> str | None:
        """The fault kind for this request, or None."""
        roll = self._random.random()
        for kind in FAULT_KINDS:
            rate = getattr(self.config, kind)
            if roll < rate:
                self.injected[kind] += 1
                return kind
            roll -= rate
        return None

    def export_fate(self) -> str | None:
        """How a new export ends: "export_error", "export_stuck", or None (it succeeds)."""
        roll = self._exports.random()
        for fate in EXPORT_FATES:
            rate = getattr(self.config, fate)
            if roll < rate:
                self.injected[fate] += 1
                return fate
            roll -= rate
        return None

    def reset(self, seed: int) -> None:
        """No faults, counters at zero, random sequence restarted."""
        self.__init__(seed)
