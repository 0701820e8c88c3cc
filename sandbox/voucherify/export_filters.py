"""The filter language of Voucherify exports: `{junction, <field>: {conditions: {$op: [..]}}}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from promosync.sandbox.voucherify.instants import parse_instant
from promosync.sandbox.voucherify.params import ApiError


class Record(NamedTuple):
    """One exportable row: its public object, its instants, and names it also answers to."""

    data: dict[str, Any]
    created_us: int
    updated_us: int | None = None
    aliases: dict[str, Any] | None = None  # e.g. a transaction's card code beside voucher_id


Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]

DATE_OPERATORS = ("$after", "$before", "$is")
VALUE_OPERATORS = {
    "$in": lambda value, operands: value in operands,
    "$not_in": lambda value, operands: value not in operands,
    "$is": lambda value, operands: value == operands[0],
    "$is_not": lambda value, operands: value != operands[0],
    "$has_value": lambda value, operands: value not in (None, ""),
    "$is_unknown": lambda value, operands: value in (None, ""),
    "$starts_with": lambda value, operands: str(value or "").startswith(str(operands[0])),
    "$ends_with": lambda value, operands: str(value or "").endswith(str(operands[0])),
    "$contains": lambda value, operands: str(operands[0]) in str(value or ""),
    "$not_contain": lambda value, operands: str(operands[0]) not in str(value or ""),
    "$more_than": lambda value, operands: _number(value) > operands[0],
    "$less_than": lambda value, operands: _number(value) < operands[0],
    "$more_than_equal": lambda value, operands: _number(value) >= operands[0],
    "$less_than_equal": lambda value, operands: _number(value) <= operands[0],
}
NUMERIC = ("$more_than", "$less_than", "$more_than_equal", "$less_than_equal")
WITHOUT_OPERAND = ("$has_value", "$is_unknown")


def invalid_payload(details: str) -> ApiError:
    """The spec's 400 `invalid_payload`."""
    return ApiError(400, "invalid_payload", "Invalid payload", details)


def _number(value: Any) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else float("nan")


def dotted(path: str) -> Getter:
    """A getter for `a.b.c` inside the record's object (None where a step is missing)."""
    steps = path.split(".")

    def get(record: Record) -> Any:
        value: Any = record.data
        for step in steps:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value

    return get


def _operands(name: str, operator: str, raw: Any, strict_arrays: bool) -> list[Any]:
    if isinstance(raw, list):
        if not raw and operator not in WITHOUT_OPERAND:
            raise invalid_payload(f"filters.{name}.conditions.{operator} must not be empty")
        return raw
    if strict_arrays:
        raise invalid_payload(f"filters.{name}.conditions.{operator} must be an array")
    return [raw]


def _date_condition(name: str, operator: str, operands: list[Any], inclusive: bool) -> Callable:
    if len(operands) != 1 or not isinstance(operands[0], str):
        raise invalid_payload(f"filters.{name}.conditions.{operator} takes one ISO 8601 instant")
    try:
        at = parse_instant(operands[0])
    except ValueError:
        raise invalid_payload(
            f"filters.{name}.conditions.{operator}: {operands[0]!r} is not an ISO 8601 instant"
        ) from None
    at = at // 1000 * 1000  # the platform keeps milliseconds
    if operator == "$is":
        return lambda value: value is not None and value // 1000 * 1000 == at
    # With exclusive bounds, $after X means from X + 1 ms and $before X up to X - 1 ms.
    low = at if inclusive else at + 1000
    high = at if inclusive else at - 1000
    if operator == "$after":
        return lambda value: value is not None and value >= low
    return lambda value: value is not None and value <= high


def field_predicate(
    name: str, spec: Any, getter: Getter, *, is_date: bool, inclusive: bool, strict_arrays: bool
) -> Predicate:
    """All the conditions set on one field, joined by AND."""
    conditions = spec.get("conditions") if isinstance(spec, dict) else None
    if not isinstance(conditions, dict) or not conditions:
        raise invalid_payload(f"filters.{name} must be {{conditions: {{$operator: [values]}}}}")
    tests: list[Callable[[Any], bool]] = []
    for operator, raw in conditions.items():
        operands = _operands(name, operator, raw, strict_arrays)
        if is_date and operator in DATE_OPERATORS:
            tests.append(_date_condition(name, operator, operands, inclusive))
        elif operator in VALUE_OPERATORS and not (is_date and operator not in WITHOUT_OPERAND):
            if operator in NUMERIC and not all(
                isinstance(o, int | float) and not isinstance(o, bool) for o in operands
            ):
                raise invalid_payload(f"filters.{name}.conditions.{operator} takes a number")
            check = VALUE_OPERATORS[operator]
            tests.append(lambda value, check=check, operands=operands: check(value, operands))
        else:
            raise invalid_payload(
                f"filters.{name}.conditions: the sandbox does not simulate {operator} here"
            )
    return lambda record: all(test(getter(record)) for test in tests)


def compile_filters(
    filters: Any,
    getters: Callable[[str], tuple[Getter, bool] | None],
    *,
    inclusive: bool,
    strict_arrays: bool,
) -> Predicate:
    """One predicate for a `filters` object; `getters(name)` gives (getter, is_date) or None."""
    if filters is None:
        return lambda record: True
    if not isinstance(filters, dict):
        raise invalid_payload("parameters.filters must be an object")
    junction = filters.get("junction", "and")
    if not isinstance(junction, str) or junction.lower() not in ("and", "or"):
        raise invalid_payload("Property .parameters.filters.junction should be one of [ and, or ]")
    parts = []
    for name, spec in filters.items():
        if name == "junction":
            continue
        found = getters(name)
        if found is None:
            raise invalid_payload(f"filters.{name}: the sandbox cannot filter this export on it")
        getter, is_date = found
        options = {"is_date": is_date, "inclusive": inclusive, "strict_arrays": strict_arrays}
        parts.append(field_predicate(name, spec, getter, **options))
    if not parts:
        return lambda record: True
    if junction.lower() == "or":
        return lambda record: any(part(record) for part in parts)
    return lambda record: all(part(record) for part in parts)


def as_arrays(filters: Any) -> Any:
    """The filters with every scalar operand wrapped in a list, as GET /v1/exports shows them."""
    if not isinstance(filters, dict):
        return filters
    out: dict[str, Any] = {}
    for name, spec in filters.items():
        conditions = spec.get("conditions") if isinstance(spec, dict) else None
        if isinstance(conditions, dict):
            wrapped = {op: v if isinstance(v, list) else [v] for op, v in conditions.items()}
            out[name] = {**spec, "conditions": wrapped}
        else:
            out[name] = spec
    return out
