"""What every promosync asset shares: kinds, retry policy, the errors that fail at once, metadata.

No `from __future__ import annotations` here, like the asset modules that use it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import dagster as dg
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.report import SyncReport
from promosync.connectors.warehouse import WarehouseError

KINDS = {"api", "sql"}
RETRY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def report_metadata(report: SyncReport) -> dict[str, object]:
    """A stream report as materialization metadata."""
    data = asdict(report)
    data.pop("stream")
    return {key: value for key, value in data.items() if value is not None}


@contextmanager
def fatal_errors() -> Iterator[None]:
    """Bad credentials, bad config, refused requests and an unusable warehouse fail at once."""
    try:
        yield
    except (ApiError, ConfigError, WarehouseError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
