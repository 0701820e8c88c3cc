"""Read a paged source ahead of its consumer, so API calls overlap warehouse writes."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from queue import Full, Queue
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items`, produced by a background thread ahead of the consumer.

    A sequential stream otherwise waits for each page while it writes the previous ones; with
    this the next pages are already being fetched: `depth` wait in the queue and one more in the
    producer's hands. Items arrive in order; an exception raised by the source is raised here,
    after the items before it. Closing the generator (wrap it in `contextlib.closing`, so an
    error in the consumer closes it at once) stops the source at its next item and joins its
    thread, after the request in flight, so no request outlives the caller.
    """
    queue: Queue[tuple[object, BaseException | None]] = Queue(maxsize=depth)
    stopped = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stopped.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as error:  # handed over to the consumer, raised there
            put((_END, error))
        else:
            put((_END, None))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = queue.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
        thread.join()
