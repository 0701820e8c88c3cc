"""`PUT /_sandbox/malformed`: deliberately invalid records in chosen answers, nothing else."""

from __future__ import annotations

import pytest


def test_a_rule_breaks_only_the_records_it_names_and_a_reset_clears_it(
    voucherify, voucherify_admin
) -> None:
    customers = voucherify.get("/v1/customers", params={"limit": 5}).json()["customers"]
    target = customers[2]["id"]
    rule = {"path": "^/v1/customers$", "where": {"id": target}, "set": {"created_at": "soon"},
            "drop": ["email"]}  # fmt: skip
    assert voucherify_admin.put("/_sandbox/malformed", json=[rule]).status_code == 200
    assert voucherify_admin.get("/_sandbox/malformed").json() == [rule]
    again = voucherify.get("/v1/customers", params={"limit": 5}).json()["customers"]
    broken = {c["id"]: c for c in again}[target]
    assert broken["created_at"] == "soon" and "email" not in broken
    assert [c for c in again if c["id"] != target] == [c for c in customers if c["id"] != target]
    truth = {c["id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert truth[target]["created_at"] != "soon"  # the ground truth keeps the valid record
    assert voucherify.get(f"/v1/customers/{target}").json()["created_at"] != "soon"  # path
    voucherify_admin.post("/_sandbox/reset").raise_for_status()
    assert voucherify_admin.get("/_sandbox/malformed").json() == []


def test_a_csv_line_gets_a_field_its_header_does_not_name(
    talon_one_management, talon_one_admin
) -> None:
    export = "/v1/loyalty_programs/101/export_customer_balances"
    lines = talon_one_management.get(export).text.splitlines()
    owner = lines[1].split(",")[2]
    rule = {"path": "export_customer_balances$", "csv_contains": f",{owner},", "csv_append": ",x"}
    talon_one_admin.put("/_sandbox/malformed", json=[rule]).raise_for_status()
    changed = talon_one_management.get(export).text.splitlines()
    assert changed[1] == lines[1] + ",x" and changed[0] == lines[0]
    assert sum(line.endswith(",x") for line in changed) == sum(
        f",{owner}," in line for line in lines
    )


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ({"path": "x"}, "takes a JSON list of rules"),
        ([{"where": {"id": 1}}], "an object with a `path`"),
        ([{"path": "x", "set": {}}], "names its records by one of where, within, csv_contains"),
        (
            [{"path": "x", "within": "a", "csv_contains": "b"}],
            "by one of where, within, csv_contains",
        ),
        ([{"path": "(", "within": "a"}], "is not a regular expression"),
        ([{"path": "x", "within": "a", "tamper": 1}], "unknown malformation key(s) ['tamper']"),
    ],
)
def test_a_bad_rule_is_a_400_naming_what_is_wrong(voucherify_admin, rules, error) -> None:
    response = voucherify_admin.put("/_sandbox/malformed", json=rules)
    assert response.status_code == 400 and error in response.json()["error"]
    assert voucherify_admin.get("/_sandbox/malformed").json() == []
