"""Fixtures of the connector tests."""

from __future__ import annotations

import pytest
from promosync.connectors.http import ApiClient
from promosync.connectors.voucherify.client import voucherify_client


@pytest.fixture
def client(sandbox, voucherify_admin) -> ApiClient:
    """A Voucherify client on the sandbox (its download host trusted), whose async actions and
    exports finish in 0.2 s."""
    fast = {"async_action_seconds": 0.2, "voucherify_export_seconds": 0.2}
    voucherify_admin.put("/_sandbox/config", json=fast).raise_for_status()
    settings = sandbox.settings
    return voucherify_client(
        sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token,
        download_url=sandbox.voucherify_download_url,
    )  # fmt: skip
