"""Voucherify exports: SCHEDULED → IN_PROGRESS → DONE/ERROR, their files and download tokens."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify import params
from promosync.sandbox.voucherify.data import derived_id
from promosync.sandbox.voucherify.export_files import render_files
from promosync.sandbox.voucherify.export_requests import ExportRequest
from promosync.sandbox.voucherify.instants import iso
from promosync.sandbox.voucherify.state import VoucherifyState

LIST_ORDERS = ("created_at", "-created_at", "status", "-status")


@dataclass
class Export:
    """One export: its request, its timing, how it ends, and its files once generated."""

    id: str
    request: ExportRequest
    created_us: int
    start_us: int  # IN_PROGRESS from here; the data is read at this instant
    finish_us: int  # DONE (or ERROR) from here
    fate: str | None  # None, "export_error" or "export_stuck" (faults)
    files: list[bytes] | None = None
    rows: int = 0
    tokens: list[str] = field(default_factory=list)  # one per file, the newest issued
    tokens_until_us: int = 0

    def status(self, now: int) -> str:
        """SCHEDULED, IN_PROGRESS, DONE or ERROR at `now`."""
        if now < self.start_us:
            return "SCHEDULED"
        if now < self.finish_us or self.fate == "export_stuck":
            return "IN_PROGRESS"
        return "ERROR" if self.fate == "export_error" else "DONE"


class Exports:
    """Every export of the project, and the download tokens issued for their files."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.by_id: dict[str, Export] = {}
        self.tokens: dict[str, tuple[str, int, int]] = {}  # token -> (export id, file, until)
        self._unread: list[Export] = []  # exports whose data is still to be read
        self._created = 0

    def create(self, request: ExportRequest, now: int, seconds: float, fate: str | None) -> Export:
        """Schedule an export; it reads its data a fifth of `seconds` later, ends at `seconds`."""
        self._created += 1
        duration = int(max(0.0, seconds) * 1_000_000)
        export = Export(
            derived_id("exp_", self.seed, "export", now, self._created),
            request,
            now,
            now + duration // 5,
            now + duration,
            fate,
        )
        self.by_id[export.id] = export
        if fate is None:
            self._unread.append(export)
        return export

    def settle(self, state: VoucherifyState, now: int, settings: SandboxSettings) -> None:
        """Generate the files of every export whose data is due to be read by `now`."""
        if not self._unread:
            return
        due = [e for e in self._unread if e.start_us <= now]
        self._unread = [e for e in self._unread if e.start_us > now]
        for export in sorted(due, key=lambda e: e.start_us):
            if export.id in self.by_id:
                export.files, export.rows = render_files(state, export.request, settings)

    def get(self, export_id: str) -> Export:
        """An export by id; 404 if unknown or deleted."""
        export = self.by_id.get(export_id)
        if export is None:
            raise params.not_found("export", export_id)
        return export

    def delete(self, export_id: str) -> None:
        """Forget an export, its files and its tokens."""
        self.get(export_id)
        del self.by_id[export_id]
        self.tokens = {t: v for t, v in self.tokens.items() if v[0] != export_id}

    def file(self, export_id: str, token: str | None, now: int) -> bytes | None:
        """The file a token opens, if it is this export's and still valid; None otherwise."""
        found = self.tokens.get(token or "")
        if found is None or found[0] != export_id or found[2] <= now:
            return None
        export = self.by_id.get(export_id)
        if export is None or export.files is None or export.status(now) != "DONE":
            return None
        return export.files[found[1]]

    def _fresh_tokens(self, export: Export, now: int, lifetime: float) -> list[str]:
        """The export's tokens, new ones once half the current ones' lifetime has passed."""
        life_us = int(lifetime * 1_000_000)
        if not export.tokens or export.tokens_until_us - now < life_us // 2:
            self.tokens = {t: v for t, v in self.tokens.items() if v[2] > now}
            export.tokens = [secrets.token_urlsafe(24) for _ in export.files or ()]
            export.tokens_until_us = now + life_us
            for number, token in enumerate(export.tokens):
                self.tokens[token] = (export.id, number, export.tokens_until_us)
        return export.tokens

    def public(self, export: Export, now: int, settings: SandboxSettings, base: str) -> dict:
        """The export object as GET /v1/exports/{id} answers it at `now`."""
        status = export.status(now)
        result = None
        if status == "DONE":
            tokens = self._fresh_tokens(export, now, settings.voucherify_export_token_seconds)
            urls = [f"{base}/v1/exports/{export.id}?token={token}" for token in tokens]
            result = {"url": urls[0]}
            if len(urls) > 1:
                result["urls"] = urls  # a large export split into several files (SANDBOX.md)
        return {
            **scheduled(export),
            "status": status,
            "parameters": export.request.shown,
            "result": result,
        }

    def list(
        self, query: Mapping[str, str], now: int, settings: SandboxSettings, base: str
    ) -> dict[str, Any]:
        """GET /v1/exports: a page of exports, newest first unless ordered otherwise."""
        limit = params.integer(query, "limit", 10, 1, 100)
        page = params.integer(query, "page", 1, 1, 10**6)
        order = params.choice(query, "order", LIST_ORDERS) or "-created_at"
        exports = list(self.by_id.values())
        if order.lstrip("-") == "status":
            exports.sort(key=lambda e: (e.status(now), e.created_us), reverse=order[0] == "-")
        else:
            exports.sort(key=lambda e: e.created_us, reverse=order[0] == "-")
        chosen = exports[(page - 1) * limit : page * limit]
        return {
            "object": "list",
            "data_ref": "exports",
            "exports": [self.public(e, now, settings, base) for e in chosen],
            "total": len(exports),
        }


def scheduled(export: Export) -> dict[str, Any]:
    """The export as its create call answers it."""
    return {
        "id": export.id,
        "object": "export",
        "created_at": iso(export.created_us),
        "status": "SCHEDULED",
        "channel": "API",
        "exported_object": export.request.exported_object,
        "parameters": export.request.echo,
        "result": None,
        "user_id": None,
    }
