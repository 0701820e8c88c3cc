"""What every promosync asset shares: kinds, retry policy, the errors that fail at once, metadata.

No `from __future__ import annotations` here, like the asset modules that use it.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import dagster as dg
from promosync.connectors import stopping
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.report import SyncReport
from promosync.connectors.warehouse import WarehouseError

KINDS = {"api", "sql"}
# Only a transient warehouse error reaches the policy: everything else fails the step at once
# (`fatal_errors`), since a retry a few seconds later cannot pass where the client's own retries
# (up to 8 attempts, honouring Retry-After) did not.
RETRY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def report_metadata(report: SyncReport) -> dict[str, object]:
    """A stream report as materialization metadata."""
    data = asdict(report)
    data.pop("stream")
    return {key: value for key, value in data.items() if value is not None}


@contextmanager
def fatal_errors(partial: Callable[[], dict[str, Any]] | None = None) -> Iterator[None]:
    """Fail the step at once, as one line, unless a retry can pass (a transient warehouse error).

    Bad credentials, bad config, refused requests, an unusable warehouse and unexpected errors
    (their class and text kept, the trace in the event log) are not retried; neither is a stop
    asked for by a signal, whose `partial` metadata says what was committed before it.
    """
    try:
        stopping.check()
        yield
    except stopping.StopRequested as stop:
        metadata = {"stopped_by": stop.signal_name, **(partial() if partial else {})}
        raise dg.Failure(str(stop), metadata=metadata, allow_retries=False) from None
    except dg.Failure:
        raise
    except WarehouseError as error:
        if error.transient:
            raise  # the asset's RetryPolicy tries the step again
        raise dg.Failure(str(error), allow_retries=False) from None
    except (ApiError, ConfigError) as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    except Exception as error:
        message = f"unexpected {type(error).__name__}: {error}"
        raise dg.Failure(message, allow_retries=False) from error
