"""What an answer is, in words a message can use: its kind, and the error an API put in it."""

from __future__ import annotations

import re

from promosync.connectors.transport import Response


def is_json(response: Response) -> bool:
    """Whether the answer says its body is JSON."""
    return "json" in response.headers.get("Content-Type", "")


def kind(response: Response) -> str:
    """What a body is, for a message: its content type, and an HTML page's title."""
    found = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    title = re.search(rb"<title[^>]*>([^<]{1,80})", response.content[:4096], re.IGNORECASE)
    if title:
        found += f" page {title.group(1).decode(errors='replace').strip()!r}"
    return found


def error_detail(response: Response) -> tuple[str, str | None]:
    """The error an API's 4xx body states (either platform's shape), and its request id."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    key = body.get("key")
    message = body.get("message") or body.get("title") or response.reason or "error"
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        message = f"{message}: {first.get('title', '')} {first.get('details', '')}".strip()
    if isinstance(body.get("details"), str) and body["details"] not in message:
        message = f"{message} ({body['details']})"  # Voucherify's explanation
    detail = f"{key}: {message}" if key else str(message)
    return detail, body.get("request_id")
