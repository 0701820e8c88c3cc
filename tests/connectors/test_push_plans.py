"""The streaming planners (over the spool) send what the in-memory planner they replaced sent:
the same requests, the same rows in each, the same bodies; each row once, none lost.

The request limit is lowered so that groups larger than a request, ties and rows too big to send
appear with a few hundred rows.
"""

from __future__ import annotations

import math
import random
from typing import Any

import orjson
import pytest
from promosync.connectors.push.batching import pack
from promosync.connectors.push.hashing import content_hash, json_bytes
from promosync.connectors.push.spool import Spool
from promosync.connectors.push.validate import Prepared
from promosync.connectors.voucherify import plans

LIMIT = 3000


def reference_metadata_plan(rows: list[tuple[str, dict]]) -> list[tuple[str, list[str]]]:
    """The planner before streaming (commit 8cf1d7b), on (key, metadata): (endpoint, keys)."""
    groups: dict[str, list[tuple[str, dict]]] = {}
    for key, metadata in rows:
        groups.setdefault(content_hash(metadata), []).append((key, metadata))
    candidates = []
    for members in groups.values():
        base = len(orjson.dumps({"source_ids": [], "metadata": members[0][1]}))
        bulk = sum(len(orjson.dumps({"source_id": k, "metadata": m})) + 1 for k, m in members)
        ids = [orjson.dumps(k) for k, _ in members]
        if base + max(map(len, ids)) <= LIMIT:
            requests = list(pack(range(len(ids)), lambda i, ids=ids: len(ids[i]), limit=LIMIT,
                                 base=base))  # fmt: skip
            candidates.append((members, requests, bulk))
    candidates.sort(key=lambda group: group[2], reverse=True)
    pool = sum(group[2] for group in candidates)
    best, best_count, grouped = 0, math.ceil(pool / (LIMIT - 2)), 0
    for index, (_, requests, bulk) in enumerate(candidates, start=1):
        grouped += len(requests)
        pool -= bulk
        if grouped + math.ceil(pool / (LIMIT - 2)) <= best_count:
            best, best_count = index, grouped + math.ceil(pool / (LIMIT - 2))
    planned = []
    chosen = set()
    for members, requests, _ in candidates[:best]:
        planned += [("metadata", [members[i][0] for i in request]) for request in requests]
        chosen.update(key for key, _ in members)
    rest = [(k, len(orjson.dumps({"source_id": k, "metadata": m}))) for k, m in rows
            if k not in chosen]  # fmt: skip
    fits = [(k, size) for k, size in rest if size + 2 <= LIMIT]
    planned += [("bulk", [k for k, _ in group])
                for group in pack(fits, lambda pair: pair[1], limit=LIMIT, base=2)]  # fmt: skip
    return planned


def _spool(rows: list[tuple[str, Any]]) -> Spool:
    spool = Spool()
    prepared = [
        Prepared(number, key, json_bytes(payload), content_hash(payload))
        for number, (key, payload) in enumerate(rows, start=1)
    ]
    spool.add(prepared, lambda key: len(orjson.dumps(key)))
    return spool


def _planned(planner, rows: list[tuple[str, Any]]) -> tuple[list[tuple], list[str]]:
    """(endpoint, keys, body) of each request, and the keys refused as too big."""
    refused = []
    keys = {number: key for number, (key, _) in enumerate(rows, start=1)}
    with _spool(rows) as spool:
        batches = [
            (batch.path, [keys[n] for n in batch.numbers], bytes(batch.body))
            for batch in planner(spool, lambda result: refused.append(result.key))
        ]
    return batches, refused


SCENARIOS = {
    "unique": lambda r: [(f"u-{n}", {"n": n, "pad": "x" * r.randrange(50)}) for n in range(300)],
    "few-large-groups": lambda r: [
        (f"g-{n}", {"tier": ["gold", "silver", "bronze"][n % 3]}) for n in range(600)
    ],
    "mixed-with-ties": lambda r: [
        (
            f"m-{n}",
            {"tier": r.choice(["a", "b", "c", "d"]) * r.randrange(1, 400)}
            if r.random() < 0.6
            else {"n": n},
        )
        for n in range(400)
    ],
    "a-group-beyond-one-request": lambda r: (
        [(f"big-group-member-{n:05d}", {"t": 1}) for n in range(400)]
        + [(f"v-{n}", {"n": n}) for n in range(50)]
    ),
    "rows-too-big-alone": lambda r: [
        (f"t-{n}", {"blob": "y" * (LIMIT if n % 7 == 0 else 20)}) for n in range(70)
    ],
    "one-row": lambda r: [("only-1", {"tier": "gold"})],
}


@pytest.fixture
def small_requests(monkeypatch) -> None:
    monkeypatch.setattr(plans, "MAX_BODY_BYTES", LIMIT)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metadata_requests_are_those_of_the_in_memory_planner(small_requests, scenario, seed):
    rows = SCENARIOS[scenario](random.Random(seed))
    batches, refused = _planned(plans.metadata_batches, rows)

    endpoints = {plans.METADATA[0]: "metadata", plans.BULK[0]: "bulk"}
    assert [(endpoints[path], keys) for path, keys, _ in batches] == reference_metadata_plan(rows)
    sent = [key for _, keys, _ in batches for key in keys]
    assert sorted(sent + refused) == sorted(key for key, _ in rows)  # each once, none lost
    metadata = dict(rows)
    for path, keys, body in batches:
        assert len(body) <= LIMIT
        if path == plans.METADATA[0]:
            decoded = orjson.loads(body)
            assert decoded["source_ids"] == keys
            assert all(metadata[key] == decoded["metadata"] for key in keys)
        else:
            assert orjson.loads(body) == [{"source_id": k, "metadata": metadata[k]} for k in keys]


@pytest.mark.parametrize("seed", [1, 2])
def test_customer_and_csv_requests_carry_every_row_once_under_the_limit(
    small_requests, monkeypatch, seed
):
    monkeypatch.setattr(plans, "MULTIPART_MARGIN", 100)
    r = random.Random(seed)
    rows = [
        (f"c-{n}", {"source_id": f"c-{n}", "name": "n" * r.randrange(1, 300),
                    "metadata": {"k": n}})
        for n in range(200)
    ] + [("huge-1", {"source_id": "huge-1", "name": "z" * LIMIT})]  # fmt: skip
    batches, refused = _planned(plans.customers_batches, rows)
    assert refused == ["huge-1"]
    assert [key for _, keys, _ in batches for key in keys] == [key for key, _ in rows[:-1]]
    for _, keys, body in batches:
        assert orjson.loads(body) == [dict(rows)[key] for key in keys] and len(body) <= LIMIT
    batches, refused = _planned(plans.csv_batches, rows)
    assert refused == ["huge-1"]
    assert [key for _, keys, _ in batches for key in keys] == [key for key, _ in rows[:-1]]
    for _, keys, body in batches:
        lines = body.decode().splitlines()
        assert lines[0] == "Name,Source_id,k" and len(lines) == len(keys) + 1
        assert len(body) <= LIMIT - plans.MULTIPART_MARGIN
