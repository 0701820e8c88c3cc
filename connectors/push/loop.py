"""The one plan/send/report loop of every push, Voucherify's and Talon.One's alike.

Read the input into a spool, report the rows it refused, then for each batch the platform's
planner makes: stop there if a signal asked (every earlier batch is sent and recorded), show the
batch, and send it. A dry run is the same loop without the sending, so what it shows is what a
push would send. What a platform differs in is handed in: its planner and how one batch goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from promosync.connectors import stopping
from promosync.connectors.push.audit import PushReport, RowResult
from promosync.connectors.push.intake import Source, report_invalid, report_rejections, take_in
from promosync.connectors.push.spool import Spool
from promosync.connectors.warehouse import Warehouse


class Described(Protocol):
    def describe(self, sequence: int) -> str:
        """The batch as a push shows it: its request, its number of rows and some keys."""


Batch = TypeVar("Batch", bound=Described)
Refuse = Callable[[RowResult], None]  # a row the planner cannot send (too big even alone)
Plan = Callable[[Spool, Refuse], Iterable[Batch]]
Send = Callable[[Spool, int, Batch], bool]  # sends batch number N; False: the push stops there


def plan_and_send(
    warehouse: Warehouse,
    report: PushReport,
    source: Source,
    plan: Plan[Batch],
    send: Send[Batch] | None = None,
    *,
    in_flight: bool,
) -> bool:
    """Run the loop over `source`'s rows (`send` None: a dry run, which records nothing);
    False when the input could not be used at all (the reason in `report.error`).

    `in_flight`: rows that open jobs of the operation carry are not sent again (asynchronous
    jobs). Rows refused on the way in count as failed until the run settles.
    """
    recorder = None if send is None else warehouse
    with Spool() as spool:
        if not take_in(warehouse, spool, report, source, in_flight=in_flight):
            return False
        report_rejections(recorder, report, spool)
        if send is not None:
            report.rows_failed = report.rows_invalid
        refuse: Refuse = lambda result: report_invalid(recorder, report, [result])  # noqa: E731
        for sequence, batch in enumerate(plan(spool, refuse), start=1):
            stopping.check()  # before the batch: it is neither recorded nor sent
            report.batches.append(batch.describe(sequence))
            if send is not None and not send(spool, sequence, batch):
                break
    return True
