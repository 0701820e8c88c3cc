"""Validate the sandbox's export answers against both Voucherify specs that describe exports.

The vendor's export schemas have defects no answer can satisfy; each is patched in a copy of
the spec (never in the spec itself) and named here:

1. `Any` (every filter operand list) is an array of `oneOf` string / date string / date-time
   string / number / object: a string is valid under two branches at once, so no string
   operand validates. Validated as `anyOf`.
2. `ExportScheduledBase.user_id` (voucherify-exports.json) is a non-nullable string, yet every
   example of the create answer has `"user_id": null`. Made nullable.
3. `ExportCustomerFilters.updated_at` (voucherify-exports.json) types its `$after` / `$before` /
   `$is` items `format: date` while its examples are date-times. The format is dropped.
4. `TransactionsExportFilterConditionsWithCampaign.campaign_id.conditions.$in` items have
   `maxLength: 1`, though the spec's own example holds a whole campaign id. Dropped.
5. POST /v1/exports documents its 400 as `oneOf` two open error objects, which every error body
   matches both of: checked against the branch its `key` names.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import orjson
import requests
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.contract import SPECS_DIR, assert_conforms, assert_voucherify_schema

SPEC_FILES = ("voucherify-openapi.json", "voucherify-exports.json")


def _patch(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    items = schemas["Any"]["items"]
    items["anyOf"] = items.pop("oneOf")
    scheduled = schemas["ExportScheduledBase"]["properties"]["user_id"]
    scheduled["nullable"] = True
    customer_filters = schemas["ExportCustomerFilters"].get("properties", {})
    for condition in (
        customer_filters.get("updated_at", {})
        .get("properties", {})
        .get("conditions", {})
        .get("properties", {})
        .values()
    ):
        condition.get("items", {}).pop("format", None)
    campaign = schemas.get("TransactionsExportFilterConditionsWithCampaign")
    if campaign is not None:
        operands = campaign["properties"]["campaign_id"]["properties"]["conditions"]
        operands["properties"]["$in"]["items"].pop("maxLength", None)
        operands["properties"]["$in"]["items"].pop("minLength", None)
    return spec


@cache
def _registry(file_name: str) -> Registry:
    spec = _patch(copy.deepcopy(json.loads((SPECS_DIR / file_name).read_text())))
    return Registry().with_resource(
        "spec", Resource.from_contents(spec, default_specification=DRAFT4)
    )


def assert_export_schema(name: str, body: Any, files: tuple[str, ...] = SPEC_FILES) -> None:
    """Fail unless `body` validates against component `name` of each (patched) spec file."""
    for file_name in files:
        validator = OAS30Validator(
            {"$ref": f"spec#/components/schemas/{name}"}, registry=_registry(file_name)
        )
        errors = [
            f"{list(e.absolute_path)}: {e.message[:300]}" for e in validator.iter_errors(body)
        ]
        assert not errors, f"{file_name} {name}: {errors}"


def _without_filters(response: requests.Response) -> requests.Response:
    """The same answer with the export's `parameters.filters` left out (see defect 1)."""
    body = response.json()

    def strip(export: dict[str, Any]) -> dict[str, Any]:
        parameters = {k: v for k, v in (export.get("parameters") or {}).items() if k != "filters"}
        return {**export, "parameters": parameters}

    if "exports" in body:
        body = {**body, "exports": [strip(e) for e in body["exports"]]}
    else:
        body = strip(body)
    stripped = requests.Response()
    stripped.status_code, stripped.headers, stripped.request = (
        response.status_code,
        response.headers,
        response.request,
    )
    stripped._content = orjson.dumps(body)
    return stripped


def assert_export_answer(response: requests.Response, schema: str) -> dict[str, Any]:
    """An export answer: the operation's documented status and shape (unpatched, filters aside)
    and the whole body against `schema` in both patched spec files."""
    assert response.status_code == 200, response.text
    assert_conforms("voucherify", _without_filters(response))
    body = response.json()
    files = SPEC_FILES if schema.startswith("Export") else SPEC_FILES[:1]
    assert_export_schema(schema, body, files)
    return body


def assert_export_error(response: requests.Response, status: int, key: str) -> dict[str, Any]:
    """An export call refused with `status` and the spec's Error body of that `key`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert_voucherify_schema("Error", body)
    assert_export_schema("Error", body, SPEC_FILES[1:])
    if status == 400 and response.request.url.endswith("/v1/exports"):
        assert_export_schema(f"e_400_{key}", body, SPEC_FILES[1:])
    assert body["code"] == status and body["key"] == key and body["request_id"].startswith("v-")
    return body
