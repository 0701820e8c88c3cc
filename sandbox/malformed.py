"""Deliberately malformed records, for testing how a connector handles one it cannot read.

CONTRACT NOTE: the answers these rules change are INVALID against the official specs on purpose
(a `date-time` that is none, an object given as a string, a `null` where a value is required, a
record without its id, a CSV row with a field its header does not name). Nothing else in the
sandbox ever answers so; the ground truth (`/_sandbox/truth/...`) keeps the valid record.

`PUT /_sandbox/malformed` takes a list of rules (it replaces the previous list; `[]` clears it,
and so does `POST /_sandbox/reset`). A rule applies to every API answer whose path matches its
`path` (a regular expression, searched):

- JSON answers: `{"path", "where": {field: value, ...}, "set": {field: value}, "drop": [field]}`
  changes every object (at any depth) holding all of `where`'s fields with those values; or,
  with `"within": key` instead of `where`, the object under that top-level key.
- CSV answers: `{"path", "csv_contains": text, "csv_append": text}` appends `csv_append` to
  every line holding `csv_contains` (e.g. `",extra"`: one field more than the header).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

KEYS = {"path", "where", "within", "set", "drop", "csv_contains", "csv_append"}


@dataclass(frozen=True)
class Malformation:
    """One rule: which answers, which records in them, and what to break."""

    path: re.Pattern[str]
    where: dict[str, Any] = field(default_factory=dict)
    within: str | None = None
    set: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    csv_contains: str | None = None
    csv_append: str = ""

    @classmethod
    def from_json(cls, item: Any) -> Malformation:
        """A rule from its JSON form; ValueError naming what is wrong."""
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ValueError("each malformation is an object with a `path` (a regular expression)")
        unknown = set(item) - KEYS
        if unknown:
            raise ValueError(
                f"unknown malformation key(s) {sorted(unknown)}; known: {sorted(KEYS)}"
            )
        targets = [bool(item.get("where")), "within" in item, "csv_contains" in item]
        if sum(targets) != 1:
            raise ValueError(
                "a malformation names its records by one of where, within, csv_contains"
            )
        try:
            path = re.compile(item["path"])
        except re.error as error:
            raise ValueError(
                f"path {item['path']!r} is not a regular expression: {error}"
            ) from None
        return cls(
            path, dict(item.get("where") or {}), item.get("within"), dict(item.get("set") or {}),
            tuple(item.get("drop") or ()), item.get("csv_contains"),
            str(item.get("csv_append", "")),
        )  # fmt: skip

    def public(self) -> dict[str, Any]:
        """The rule as it was given."""
        shown = {"path": self.path.pattern, "set": self.set, "drop": list(self.drop)}
        if self.csv_contains is not None:
            return {"path": shown["path"], "csv_contains": self.csv_contains,
                    "csv_append": self.csv_append}  # fmt: skip
        return {**shown, **({"within": self.within} if self.within else {"where": self.where})}

    def _break(self, record: dict[str, Any]) -> None:
        record.update(self.set)
        for name in self.drop:
            record.pop(name, None)

    def _json(self, value: Any) -> None:
        if isinstance(value, dict):
            if all(value.get(k) == v for k, v in self.where.items()):
                self._break(value)
            for inner in value.values():
                self._json(inner)
        elif isinstance(value, list):
            for inner in value:
                self._json(inner)

    def apply(self, body: Any) -> Any:
        """The JSON `body` with the rule's records broken (in place)."""
        if self.within is not None:
            if isinstance(body, dict) and isinstance(body.get(self.within), dict):
                self._break(body[self.within])
        else:
            self._json(body)
        return body


def parse(payload: Any) -> list[Malformation]:
    """The rules of a `PUT /_sandbox/malformed` body."""
    if not isinstance(payload, list):
        raise ValueError("malformed takes a JSON list of rules ([] clears them)")
    return [Malformation.from_json(item) for item in payload]


def rewrite(rules: list[Malformation], path: str, body: bytes) -> bytes:
    """An answer's body with the rules for `path` applied (JSON or CSV, told by its content)."""
    chosen = [rule for rule in rules if rule.path.search(path)]
    if not chosen or not body:
        return body
    if body[:1] in (b"{", b"["):
        data = orjson.loads(body)
        for rule in chosen:
            if rule.csv_contains is None:
                data = rule.apply(data)
        return orjson.dumps(data)
    lines = body.decode().split("\n")
    for rule in chosen:
        if rule.csv_contains is not None:
            lines = [
                line.rstrip("\r") + rule.csv_append + ("\r" if line.endswith("\r") else "")
                if rule.csv_contains in line
                else line
                for line in lines
            ]
    return "\n".join(lines).encode()
