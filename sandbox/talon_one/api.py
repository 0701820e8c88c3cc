"""The Talon.One simulator: Integration API (`ApiKey-v1`) and Management API (`ManagementKey-v1`).

The admin payload of `mutate` is documented in `sandbox.talon_one.admin`; ledger ordering and
date-window semantics in `sandbox.talon_one.loyalty`.
"""

from __future__ import annotations

import random
from typing import Any

from promosync.sandbox.asgi import JSONResponse, SandboxApi
from promosync.sandbox.limits import FixedWindow, PerSecondLimit
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.talon_one import admin, exports, integration, loyalty, management
from promosync.sandbox.talon_one.data import generate
from promosync.sandbox.talon_one.gateway import (
    INTEGRATION,
    MANAGEMENT,
    error_body,
    guarded,
    rate_limited,
)
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

LOYALTY = "/v1/loyalty_programs/{loyaltyProgramId}"
AUDIENCE = "/v2/audiences/{audienceId}"
PROFILE = LOYALTY + "/profile/{integrationId}"
CARD = LOYALTY + "/cards/{loyaltyCardId}"
# (scheme, method, path template, operation id), as in the split spec trees.
ROUTES = (
    (INTEGRATION, "GET", PROFILE + "/transactions", "getLoyaltyProgramProfileTransactions"),
    (INTEGRATION, "GET", CARD + "/transactions", "getLoyaltyCardTransactions"),
    (INTEGRATION, "GET", PROFILE + "/balances", "getLoyaltyBalances"),
    (INTEGRATION, "GET", CARD + "/balances", "getLoyaltyCardBalances"),
    (INTEGRATION, "PUT", "/v2/customer_profiles", "updateCustomerProfilesV2"),
    (INTEGRATION, "PUT", "/v2/customer_profiles/{integrationId}", "updateCustomerProfileV2"),
    (INTEGRATION, "POST", "/v2/customer_audiences", "updateCustomerProfileAudiences"),
    (INTEGRATION, "POST", "/v2/audiences", "createAudienceV2"),
    (INTEGRATION, "PUT", AUDIENCE, "updateAudienceV2"),
    (INTEGRATION, "DELETE", AUDIENCE, "deleteAudienceV2"),
    (INTEGRATION, "DELETE", AUDIENCE + "/memberships", "deleteAudienceMembershipsV2"),
    (INTEGRATION, "DELETE", "/v1/customer_data/{integrationId}", "deleteCustomerData"),
    (INTEGRATION, "GET", "/v1/customer_profiles/{integrationId}/inventory", "getCustomerInventory"),
    (MANAGEMENT, "GET", "/v1/loyalty_programs", "getLoyaltyPrograms"),
    (MANAGEMENT, "GET", LOYALTY + "/transactions", "getLoyaltyProgramTransactions"),
    (MANAGEMENT, "GET", LOYALTY + "/cards", "getLoyaltyCards"),
    (MANAGEMENT, "GET", "/v1/customers/no_total", "getCustomerProfiles"),
    (MANAGEMENT, "GET", LOYALTY + "/export_customer_balances", "exportLoyaltyBalances"),
    (MANAGEMENT, "GET", LOYALTY + "/export_card_balances", "exportLoyaltyCardBalances"),
)  # fmt: skip


class TalonOneApi(SandboxApi):
    """Talon.One's profiles, loyalty ledgers, cards and audiences over one generated dataset."""

    name = "talon_one"

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        self.minute_budget = FixedWindow()
        self.per_second = PerSecondLimit()
        self.regenerate()

    def routes(self) -> list[BaseRoute]:
        """Every simulated operation, behind its API's key type and rate limit."""
        handlers: dict[str, Any] = {}
        for module in (loyalty, integration, management, exports):
            handlers.update(module.make_handlers(self))
        return [
            Route(path, guarded(self, scheme, path, handlers[operation]), methods=[method])
            for scheme, method, path, operation in ROUTES
        ]

    def error_response(
        self, status: int, key: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        """`ErrorResponseWithStatus`, or a plain `ErrorResponse` for the undocumented 429."""
        if status == 429:
            response = rate_limited(int((headers or {}).get("Retry-After", 1)))
            response.headers.update(headers or {})
            return response
        return JSONResponse(error_body(status, message), status, headers=headers)

    def truth(self, collection: str) -> list[dict[str, Any]]:
        """A collection named in `sandbox.talon_one.admin` (profiles, … profile_updates)."""
        return admin.truth(self.store, collection)

    def mutate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply the admin changes documented in `sandbox.talon_one.admin`."""
        return admin.mutate(self.store, self.rng, payload)

    def regenerate(self) -> None:
        """A fresh dataset from the seed and customer count; empty rate-limit windows."""
        settings = self.settings
        self.store = generate(settings.seed, settings.customers, settings.talon_one_transactions)
        self.rng = random.Random(f"talon-one-admin-{self.settings.seed}")
        self.minute_budget.clear()
        self.per_second.clear()
