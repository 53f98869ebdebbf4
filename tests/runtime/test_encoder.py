"""A tick's state encoded once per audience and per encoding in use."""

from __future__ import annotations

import json

import msgspec
import pytest

from games import protocol
from games.engine import GAMES, get_game
from games.runtime.match import ops
from games.runtime.match.encoder import DELTA_HISTORY_TICKS, StateEncoder
from games.runtime.match.roster import Roster
from tests.runtime.fakes import SEATS
from tests.secret_game import SecretGame

ANN, BEN = SEATS


def roster_with(*sockets: tuple[int, str, str]) -> Roster:
    roster = Roster(SEATS)
    for player_id, channel, subprotocol in sockets:
        roster.join(ops.Join(player_id, channel, None, "", subprotocol), waiting=False)
    return roster


def test_a_game_without_secrets_is_encoded_once_for_everyone_in_each_encoding_in_use():
    game = get_game("arena")
    state = game.initial_state(game.settings({}), 2, 1)
    roster = roster_with(
        (ANN.player_id, "a", protocol.SUBPROTOCOL_JSON),
        (BEN.player_id, "b", protocol.SUBPROTOCOL_COMPACT),
        (999, "eve", protocol.SUBPROTOCOL_MSGPACK),
    )
    [(channels, fields)] = StateEncoder(game, 20).encode(state, [], roster)
    assert list(channels) == ["a", "b", "eve"]
    assert json.loads(fields["text"])["state"] == game.view(state, None)
    assert msgspec.msgpack.decode(fields["bytes"])["tick"] == 0
    assert fields["compact"] and fields["deltas"] == []


def test_deltas_go_from_each_acknowledged_base_while_it_is_in_the_history():
    game = get_game("arena")
    state = game.initial_state(game.settings({}), 2, 1)
    roster = roster_with((ANN.player_id, "a", protocol.SUBPROTOCOL_COMPACT))
    encoder = StateEncoder(game, 20)
    for _ in range(3):
        encoder.encode(state, [], roster)
        game.tick(state)
    roster.get(ANN.player_id).acked = 0
    [(_, fields)] = encoder.encode(state, [], roster)
    assert [base for base, _ in fields["deltas"]] == [0, 2]  # acknowledged, and the previous
    for _ in range(DELTA_HISTORY_TICKS):
        game.tick(state)
        [(_, fields)] = encoder.encode(state, [], roster)
    assert 0 not in [base for base, _ in fields["deltas"]]  # too old: full frames for it


@pytest.fixture
def secret_game():
    GAMES["secret"] = SecretGame()
    yield GAMES["secret"]
    del GAMES["secret"]


def test_hidden_information_is_encoded_per_seat_and_once_for_the_spectators(secret_game):
    state = secret_game.initial_state(secret_game.settings({}), 2, 1)
    roster = roster_with(
        (ANN.player_id, "a", protocol.SUBPROTOCOL_JSON),
        (BEN.player_id, "b", protocol.SUBPROTOCOL_JSON),
        (998, "eve", protocol.SUBPROTOCOL_JSON),
        (999, "max", protocol.SUBPROTOCOL_JSON),
    )
    deliveries = StateEncoder(secret_game, 10).encode(state, [], roster)
    assert [sorted(channels) for channels, _ in deliveries] == [["a"], ["b"], ["eve", "max"]]
    views = [json.loads(fields["text"])["state"] for _, fields in deliveries]
    assert views == [
        secret_game.view(state, 0),
        secret_game.view(state, 1),
        secret_game.view(state, None),
    ]
    assert views[0] != views[1]


def test_a_heartbeat_is_due_a_second_of_ticks_after_the_last_state():
    game = get_game("connect_four")
    state = game.initial_state(game.settings({}), 2, 1)
    encoder = StateEncoder(game, 10)
    encoder.encode(state, [], Roster(SEATS))
    assert not encoder.due_for_heartbeat(9) and encoder.due_for_heartbeat(10)
