"""Benchmark what reading records through `RowReader` (connectors/rejects.py) adds per record.

`.venv/bin/python bench/reader_cost.py`: microseconds per record of the stream's bare `to_row`
and of `RowReader.read` (to_row, then every column checked against the warehouse's types), best
of five, for the two streams with the most rows: Voucherify customers (real sandbox records, two
timestamps, three integers) and Talon.One ledger entries (three timestamps' worth of columns,
four integers). In-process and single-threaded, so a loaded machine disturbs it little.
"""

from __future__ import annotations

import tempfile
import timeit
from datetime import UTC, datetime

from promosync.connectors.rejects import RowReader
from promosync.connectors.stream import Record, Stream
from promosync.connectors.talon_one.streams import TRANSACTIONS
from promosync.connectors.voucherify.streams import CUSTOMERS
from promosync.connectors.warehouse import Warehouse
from promosync.sandbox.server import build_apis
from promosync.sandbox.settings import SandboxSettings

RECORDS = 2_000
PASSES, RUNS = 5, 21  # each run reads the records PASSES times; the best run counts


def best_of(call, records: int) -> float:
    """Microseconds per record, the best of RUNS runs (a loaded machine only slows runs down)."""
    return min(timeit.repeat(call, number=PASSES, repeat=RUNS)) / (PASSES * records) * 1e6


def measure(stream: Stream, records: list[Record], reader: RowReader) -> tuple[float, float]:
    """Microseconds per record of `to_row` alone and of `RowReader.read`."""
    at, to_row = datetime.now(UTC), stream.to_row
    bare = best_of(lambda: [to_row(record, at) for record in records], len(records))
    read = best_of(lambda: [reader.read(record, at) for record in records], len(records))
    return bare, read


def main() -> None:
    voucherify, talon_one = build_apis(SandboxSettings(customers=RECORDS))
    samples = {
        CUSTOMERS: voucherify.truth("customers")[:RECORDS],
        TRANSACTIONS: talon_one.truth("loyalty_transactions")[:RECORDS],
    }
    warehouse = Warehouse(f"duckdb:///{tempfile.mkdtemp()}/bench.duckdb")
    warehouse.create_tables()
    for stream, records in samples.items():
        reader = RowReader(stream, warehouse.column_types(stream.name))
        bare, read = measure(stream, records, reader)
        print(
            f"{stream.name}: to_row {bare:.2f} us, RowReader.read {read:.2f} us per record"
            f" (+{read - bare:.2f} us, {len(records)} records)"
        )
    warehouse.dispose()


if __name__ == "__main__":
    main()
