"""Runner operations: declared types, and the boundary where they cross Redis."""

from __future__ import annotations

import logging

import pytest

from games.runtime.match import ops
from games.runtime.routing import _batched

EVERY_KIND = [
    ops.Join(7, "c!1", 0, "Ann", "arcade.v1.compact"),
    ops.Join(8, "c!2"),
    ops.Leave(7, "c!1"),
    ops.Ready(7, "c!1"),
    ops.Input(7, "c!1", {"seq": 3, "mx": 0.5}, ack=12),
    ops.Resync(7, "c!1"),
    ops.Chat(7, "c!1", "Ann", "good luck!"),
    ops.Aborted(),
]


@pytest.mark.parametrize("op", EVERY_KIND, ids=lambda op: type(op).__name__)
def test_every_operation_crosses_redis_as_it_was(op):
    assert ops.from_wire(ops.to_wire(op)) == op


def test_a_misspelt_field_is_a_type_error_where_the_operation_is_built():
    with pytest.raises(TypeError):
        ops.Leave(7, chanel="c!1")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "message",
    [
        {"op": "jion", "player_id": 7, "channel": "c"},  # an unknown kind
        {"op": "leave", "player_id": 7},  # a field missing
        {"op": "leave", "player_id": "7", "channel": "c"},  # of the wrong type
        {"op": "ready", "player_id": 7, "channel": "c", "seat": 0},  # a field it does not have
        {"op": "input", "player_id": 7, "channel": "c", "data": {}, "ack": -1},
        {"op": "chat", "player_id": 7, "channel": "c", "name": "Ann", "text": "x" * 201},
        {"player_id": 7, "channel": "c"},
        ["join"],
        None,
    ],
)
def test_a_malformed_operation_from_another_process_is_dropped_with_a_log_line(message, caplog):
    with caplog.at_level(logging.WARNING, logger="games.runtime.match.ops"):
        assert ops.from_wire(message, source="the queue of match m") is None
    [record] = caplog.records
    assert "dropped a malformed operation from the queue of match m" in record.getMessage()


def test_a_batch_of_inputs_keeps_what_decodes_and_drops_the_rest(caplog):
    good = ops.Input(7, "c!1", {"seq": 1})
    batch = {"op": "batch", "messages": [ops.to_wire(good), {"op": "input"}, 5]}
    with caplog.at_level(logging.WARNING):
        assert _batched(batch, "m") == [good]
        assert _batched({"op": "batch", "messages": "x"}, "m") == []
        assert _batched([1, 2], "m") == []
    assert len(caplog.records) == 4
