"""Segment membership: generated from the seed, then moved by admin calls or the generator."""

from __future__ import annotations

import random
from typing import Any

from promosync.sandbox.voucherify.data import segments_catalogue, segments_of

ENTERED, LEFT = "customer.segment.entered", "customer.segment.left"


class Memberships:
    """Which segments each customer is in; customers never moved keep their generated ones."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.catalogue = segments_catalogue(seed)
        self._moved: dict[str, list[dict[str, Any]]] = {}  # customer id -> current segments

    def generated(self, customer_id: str) -> list[dict[str, Any]]:
        """The segments the seed puts a customer in (what their generated history ends with)."""
        return segments_of(self.seed, customer_id, self.catalogue)

    def of(self, customer_id: str) -> list[dict[str, Any]]:
        """The segments a customer is in now."""
        moved = self._moved.get(customer_id)
        return self.generated(customer_id) if moved is None else moved

    def start_empty(self, customer_id: str) -> None:
        """A customer created while the sandbox runs is in no segment yet."""
        self._moved[customer_id] = []

    def forget(self, customer_id: str) -> None:
        """A deleted customer is in no segment."""
        self._moved.pop(customer_id, None)

    def segment(self, key: str) -> dict[str, Any] | None:
        """A segment by id or name."""
        return next((s for s in self.catalogue if key in (s["id"], s["name"])), None)

    def enter(self, customer_id: str, segment: dict[str, Any]) -> bool:
        """Put a customer in a segment; False if they already were."""
        current = self.of(customer_id)
        if any(s["id"] == segment["id"] for s in current):
            return False
        order = [s["id"] for s in self.catalogue]
        self._moved[customer_id] = sorted([*current, segment], key=lambda s: order.index(s["id"]))
        return True

    def leave(self, customer_id: str, segment: dict[str, Any]) -> bool:
        """Take a customer out of a segment; False if they were not in it."""
        current = self.of(customer_id)
        if not any(s["id"] == segment["id"] for s in current):
            return False
        self._moved[customer_id] = [s for s in current if s["id"] != segment["id"]]
        return True


def history_plan(
    slots: int, target: list[dict[str, Any]], catalogue: list[dict[str, Any]], rng: random.Random
) -> list[tuple[str, dict[str, Any]] | None]:
    """Segment events for `slots` chronological places, ending in exactly `target`.

    Earlier places become enter/leave pairs, the last ones enter the target segments; an odd
    place left over is None (the caller logs something else there). Needs `slots >= len(target)`.
    """
    spare = slots - len(target)
    plan: list[tuple[str, dict[str, Any]] | None] = []
    for _ in range(spare // 2):
        segment = rng.choice(catalogue)
        plan += [(ENTERED, segment), (LEFT, segment)]
    if spare % 2:
        plan.append(None)
    return plan + [(ENTERED, segment) for segment in target]
