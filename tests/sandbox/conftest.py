"""Fixtures of the sandbox tests: run-time settings that are put back after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ApiSession
from tests.sandbox.exports_client import FAST


@pytest.fixture
def configure(voucherify_admin: ApiSession) -> Iterator[Callable[..., None]]:
    """`configure(name=value, …)` through `PUT /_sandbox/config`; the old values come back after."""
    before = voucherify_admin.get("/_sandbox/config").json()

    def apply(**changes: Any) -> None:
        voucherify_admin.put("/_sandbox/config", json=changes).raise_for_status()

    yield apply
    voucherify_admin.put("/_sandbox/config", json=before).raise_for_status()


@pytest.fixture
def fast_exports(configure: Callable[..., None]) -> None:
    """Voucherify exports that take 0.2 s instead of 1 s."""
    configure(**FAST)
