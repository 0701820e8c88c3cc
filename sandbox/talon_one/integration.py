"""Integration API writes and profile reads: customer profiles, audiences, customer data, inventory.

`POST /v2/customer_audiences` answers 404 when an audience or a profile is unknown, and applies
nothing unless every change is valid. Profile upserts merge the attributes sent into the stored
ones. No campaigns exist, so the Rule Engine never returns effects; unknown audience ids in
`audiencesChanges` are a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promosync.sandbox.asgi import JSONResponse
from promosync.sandbox.talon_one.gateway import ApiError, Query, json_body, path_int
from promosync.sandbox.talon_one.model import Audience, Profile, now_ms
from promosync.sandbox.talon_one.render import (
    audience_json,
    card_json,
    inventory_programs,
    profile_json,
)
from promosync.sandbox.talon_one.store import Store
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from promosync.sandbox.talon_one.api import TalonOneApi

MAX_PROFILES = 1000  # "up to 1000 customer profiles" per request (stated in the description only)
RESPONSE_CONTENT = (
    "customerProfile", "triggeredCampaigns", "loyalty", "event", "awardedGiveaways",
    "ruleFailureReasons", "campaignEligibility",
)  # fmt: skip


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return value


def _integration_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 1000:
        raise ApiError(400, f"{what} must be a non-empty string of at most 1000 characters")
    return value


def upsert_profile(store: Store, integration_id: str, attributes: dict[str, Any]) -> Profile:
    """Create a profile, or merge `attributes` into an existing one (keys not sent are kept)."""
    profile = store.profiles.get(integration_id)
    if profile is None:
        now = now_ms()
        profile = Profile(store.next_profile_id, integration_id, now, dict(attributes), now, 0, 0.0)
        store.add_profile(profile)
    else:
        profile.attributes.update(attributes)
    return profile


def audience_of(store: Store, request: Request) -> Audience:
    """The path's audience, or a 404."""
    audience = store.audiences.get(path_int(request, "audienceId"))
    if audience is None:
        raise ApiError(404, "Audience not found", "audienceId")
    return audience


def _audience_ids(store: Store, value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(i, int) for i in value):
        raise ApiError(400, f"{what} must be an array of audience ids")
    unknown = [i for i in value if i not in store.audiences]
    if unknown:
        raise ApiError(400, f"{what}: unknown audience id(s) {unknown}")
    return value


def make_handlers(api: TalonOneApi) -> dict[str, Callable[[Request], Any]]:
    """The Integration API's profile and audience handlers, by operation id."""

    async def update_profiles(request: Request) -> Response:
        store = api.store
        silent = Query(request).choice("silent", ("yes", "no")) or "yes"
        items = _object(await json_body(request), "The body").get("customerProfiles")
        if not isinstance(items, list):
            raise ApiError(400, "customerProfiles must be an array")
        if len(items) > MAX_PROFILES:
            raise ApiError(
                400, f"At most {MAX_PROFILES} customer profiles per request, got {len(items)}"
            )
        changes = []
        for index, item in enumerate(items):
            item = _object(item, f"customerProfiles[{index}]")
            integration_id = _integration_id(
                item.get("integrationId"), f"customerProfiles[{index}].integrationId"
            )
            changes.append(
                (
                    integration_id,
                    _object(item.get("attributes", {}), f"customerProfiles[{index}].attributes"),
                )
            )
        profiles = [
            upsert_profile(store, integration_id, attrs) for integration_id, attrs in changes
        ]
        store.profile_updates.update(integration_id for integration_id, _ in changes)
        if silent == "yes":
            return Response(status_code=204)
        states = [{"customerProfile": profile_json(store, profile)} for profile in profiles]
        return JSONResponse({"integrationStates": states})

    async def update_profile(request: Request) -> Response:
        store = api.store
        query = Query(request)
        dry = bool(query.boolean("runRuleEngine")) and bool(query.boolean("dry"))
        integration_id = _integration_id(request.path_params["integrationId"], "integrationId")
        body = _object(await json_body(request), "The body")
        attributes = _object(body.get("attributes", {}), "attributes")
        changes = _object(
            body.get("audiencesChanges", {"adds": [], "deletes": []}), "audiencesChanges"
        )
        adds = _audience_ids(store, changes.get("adds"), "audiencesChanges.adds")
        deletes = _audience_ids(store, changes.get("deletes"), "audiencesChanges.deletes")
        wanted = body.get("responseContent", [])
        if not isinstance(wanted, list) or any(item not in RESPONSE_CONTENT for item in wanted):
            raise ApiError(
                400, f"responseContent items must be among {', '.join(RESPONSE_CONTENT)}"
            )
        if dry:
            profile = store.profiles.get(integration_id) or Profile(
                0, integration_id, now_ms(), {}, now_ms(), 0, 0.0
            )
        else:
            profile = upsert_profile(store, integration_id, attributes)
            for audience_id in adds:
                store.audiences[audience_id].members.add(integration_id)
            for audience_id in deletes:
                store.audiences[audience_id].members.discard(integration_id)
        # No campaigns run in the sandbox: the Rule Engine never produces effects.
        answer: dict[str, Any] = {"effects": [], "createdCoupons": [], "createdReferrals": []}
        if "customerProfile" in wanted:
            answer["customerProfile"] = profile_json(store, profile)
        if "triggeredCampaigns" in wanted:
            answer["triggeredCampaigns"] = []
        if "loyalty" in wanted:
            now = now_ms()
            cards = [card_json(store, card, now) for card in store.cards_of(integration_id)]
            answer["loyalty"] = {
                "programs": inventory_programs(store, integration_id, now),
                "cards": cards,
            }
        return JSONResponse(answer)

    async def customer_audiences(request: Request) -> Response:
        store = api.store
        items = _object(await json_body(request), "The body").get("data")
        if not isinstance(items, list):
            raise ApiError(400, "data must be an array")
        changes = []
        for index, item in enumerate(items):
            item = _object(item, f"data[{index}]")
            action, audience_id = item.get("action"), item.get("audienceId")
            member = _integration_id(
                item.get("profileIntegrationId"), f"data[{index}].profileIntegrationId"
            )
            if action not in ("add", "delete") or not isinstance(audience_id, int):
                raise ApiError(
                    400, f"data[{index}] needs action add|delete and an integer audienceId"
                )
            if audience_id not in store.audiences:
                raise ApiError(404, f"Audience {audience_id} not found")
            if member not in store.profiles:
                raise ApiError(404, f"Customer profile {member!r} not found")
            changes.append((action, store.audiences[audience_id], member))
        for action, audience, member in changes:
            (audience.members.add if action == "add" else audience.members.discard)(member)
        return Response(status_code=204)

    async def create_audience(request: Request) -> Response:
        store = api.store
        body = _object(await json_body(request), "The body")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "name is required")
        integration, integration_id = body.get("integration"), body.get("integrationId")
        if integration_id is not None and any(
            a.integration == integration and a.integration_id == integration_id
            for a in store.audiences.values()
        ):
            raise ApiError(
                409, "An audience with this integrationId already exists for this integration"
            )
        now = now_ms()
        audience = Audience(store.next_audience_id, now, name, str(body.get("description", "")),
                            integration, integration_id, now)  # fmt: skip
        store.audiences[audience.id] = audience
        store.next_audience_id += 1
        return JSONResponse(audience_json(audience), 201)

    async def update_audience(request: Request) -> Response:
        audience = audience_of(api.store, request)
        body = _object(await json_body(request), "The body")
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise ApiError(400, "name is required")
        audience.name = body["name"]
        audience.last_update = now_ms()
        return JSONResponse(audience_json(audience))

    async def delete_audience(request: Request) -> Response:
        audience = audience_of(api.store, request)
        del api.store.audiences[audience.id]
        return Response(status_code=204)

    async def delete_memberships(request: Request) -> Response:
        audience_of(api.store, request).members.clear()
        return Response(status_code=204)

    async def delete_customer_data(request: Request) -> Response:
        integration_id = request.path_params["integrationId"]
        if integration_id not in api.store.profiles:
            raise ApiError(404, "Customer profile not found", "integrationId")
        api.store.delete_profile(integration_id)
        return Response(status_code=204)

    async def inventory(request: Request) -> Response:
        store = api.store
        profile = store.profiles.get(request.path_params["integrationId"])
        if profile is None:
            raise ApiError(404, "Customer profile not found", "integrationId")
        query = Query(request)
        answer: dict[str, Any] = {}
        if query.boolean("profile"):
            answer["profile"] = profile_json(store, profile)
        if query.boolean("loyalty"):
            now = now_ms()
            cards = [card_json(store, card, now) for card in store.cards_of(profile.integration_id)]
            answer["loyalty"] = {
                "programs": inventory_programs(store, profile.integration_id, now),
                "cards": cards,
            }
        for name in ("referrals", "coupons", "giveaways", "achievements"):
            if query.boolean(name):
                answer[name] = []  # the sandbox runs no campaigns, so none exist
        return JSONResponse(answer)

    return {
        "updateCustomerProfilesV2": update_profiles,
        "updateCustomerProfileV2": update_profile,
        "updateCustomerProfileAudiences": customer_audiences,
        "createAudienceV2": create_audience,
        "updateAudienceV2": update_audience,
        "deleteAudienceV2": delete_audience,
        "deleteAudienceMembershipsV2": delete_memberships,
        "deleteCustomerData": delete_customer_data,
        "getCustomerInventory": inventory,
    }
