"""Request bodies of the bulk endpoints: the 10 MB cap, JSON decoding and shape checks."""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from promosync.sandbox.voucherify.params import ApiError
from starlette.datastructures import UploadFile
from starlette.requests import Request

MAX_BULK_BYTES = 10 * 1024 * 1024  # "Max 10 MB" per bulk request; larger bodies get 413


def request_id() -> str:
    """An id shaped like Voucherify's, e.g. `v-0a885062c80375740f`."""
    return "v-" + secrets.token_hex(9)


def _invalid(details: str) -> ApiError:
    return ApiError(400, "invalid_payload", "Invalid payload", details)


async def raw_body(request: Request, limit: int | None = None) -> bytes:
    """The whole body; 413 beyond `limit` bytes."""
    raw = await request.body()
    if limit is not None and len(raw) > limit:
        raise ApiError(
            413, "request_too_large", "Request entity too large", "The body exceeds 10 MB"
        )
    return raw


async def json_body(request: Request, limit: int | None = None) -> Any:
    """The body decoded as JSON; 400 if it is not."""
    try:
        return orjson.loads(await raw_body(request, limit))
    except orjson.JSONDecodeError:
        raise _invalid("The body is not valid JSON") from None


async def csv_upload(request: Request) -> bytes:
    """The multipart field `file` of an importCSV request."""
    await raw_body(request, MAX_BULK_BYTES)
    try:
        form = await request.form(max_part_size=MAX_BULK_BYTES)
    except Exception as exc:  # python-multipart raises several unrelated types
        raise _invalid(f"Bad multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(
            400, "missing_file", "Missing file", "Send the CSV in the multipart field `file`"
        )
    return await upload.read()


async def bulk_rows(request: Request) -> list[Any]:
    """The JSON array of a bulk customer update."""
    rows = await json_body(request, MAX_BULK_BYTES)
    if not isinstance(rows, list) or not rows:
        raise _invalid("The body must be a non-empty array of customers")
    return rows


async def metadata_update(request: Request) -> dict[str, Any]:
    """The `{source_ids, metadata}` body of a bulk metadata update."""
    body = await json_body(request, MAX_BULK_BYTES)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("source_ids"), list)
        or not body["source_ids"]
        or not isinstance(body.get("metadata"), dict)
    ):
        raise _invalid("The body must be {source_ids: [non-empty list], metadata: {object}}")
    return body
