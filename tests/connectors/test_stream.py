"""Stream declarations refuse what no code could wire, and name the sync function they lack."""

from __future__ import annotations

import pytest
from promosync.connectors import stream as stream_module
from promosync.connectors.stream import pulls, sync_function

from tests.connectors.fakes import stream


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": "two\nlines"}, "things: the description must be one line"),
        ({"description": ""}, "things: the description must be one line"),
        ({"checks": ("fresh", "row_count")}, "things: unknown check or option row_count"),
        ({"options": ("window", "budget")}, "things: unknown check or option budget"),
    ],
)
def test_a_declaration_no_code_could_wire_is_refused(fields, message) -> None:
    with pytest.raises(ValueError, match=message):
        stream(**fields)


def test_a_paged_read_needs_its_page_size() -> None:
    assert stream().required("page_size") == 2
    with pytest.raises(ValueError, match="things must declare page_size to be read this way"):
        stream(page_size=None).required("page_size")


def test_one_sync_function_per_stream(monkeypatch) -> None:
    monkeypatch.setattr(stream_module, "_SYNC_FUNCTIONS", {})
    things = stream()
    with pytest.raises(LookupError, match=r"things has no sync function: decorate one with @pulls"):
        sync_function(things)

    @pulls(things)
    def sync_things(client, warehouse):
        return None

    assert sync_function(things) is sync_things
    pulls(things)(sync_things)  # the same function again (a module reloaded) is no conflict

    def another(client, warehouse):
        return None

    with pytest.raises(ValueError, match=r"things already has a sync function: .*sync_things"):
        pulls(things)(another)
