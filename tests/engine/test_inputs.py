"""Input schemas: what a game declares, what it refuses, and old logs that still replay."""

from typing import Annotated, Any

import msgspec
import pytest

from games.engine import GAMES, get_game
from games.engine.base import InvalidInput
from games.engine.inputs import InvalidSchema, check_schema
from games.engine.replay import replay
from tests.secret_game import SecretGame


def test_every_registered_game_declares_its_input():
    for game in [*GAMES.values(), SecretGame()]:
        assert issubclass(game.Input, msgspec.Struct), game.key
        check_schema(game.key, game.Input)  # bounded, unknown fields refused


Small = Annotated[int, msgspec.Meta(ge=0, le=9)]


@pytest.mark.parametrize(
    ("annotation", "problem"),
    [
        (int, "both bounds"),
        (Annotated[int, msgspec.Meta(ge=0)], "both bounds"),
        (float, "both bounds"),
        (str, "max_length"),
        (list[Small], "max_length"),
        (Annotated[list[int], msgspec.Meta(max_length=3)], "both bounds"),
        (Annotated[dict[str, Small], msgspec.Meta(max_length=3)], "max_length"),
        (Any, "not allowed"),
        (bytes, "not allowed"),
    ],
)
def test_a_schema_with_an_unbounded_field_is_refused_when_the_game_is_defined(annotation, problem):
    namespace = {"__annotations__": {"value": annotation}}
    schema = type("Loose", (msgspec.Struct,), namespace, forbid_unknown_fields=True)
    with pytest.raises(InvalidSchema, match=problem) as refused:
        check_schema("Loose", schema)
    assert "Loose.Input.value" in str(refused.value)


def test_a_schema_with_bounds_beyond_64_bits_is_refused():
    class Huge(msgspec.Struct, forbid_unknown_fields=True):
        value: Annotated[int, msgspec.Meta(ge=0, le=2**64)]

    with pytest.raises(InvalidSchema, match="int64"):
        check_schema("Huge", Huge)


def test_a_schema_that_keeps_unknown_fields_is_refused():
    class Open(msgspec.Struct):
        column: Small

    with pytest.raises(InvalidSchema, match="forbid_unknown_fields"):
        check_schema("Open", Open)


def test_a_game_class_with_a_loose_schema_cannot_be_defined():
    class Loose(msgspec.Struct, forbid_unknown_fields=True):
        amount: int

    with pytest.raises(InvalidSchema):

        class Bad(SecretGame):
            Input = Loose


def test_an_input_parsed_from_json_text_names_the_bad_field():
    game = get_game("arena")
    with pytest.raises(InvalidInput) as refused:
        game.parse_input(msgspec.Raw(b'{"seq": 1, "mx": 1e400}'))
    assert refused.value.field == "mx"
    parsed = game.parse_input(msgspec.Raw(b'{"seq": 2, "fire": true}'))
    assert game.dump_input(parsed) == {"seq": 2, "fire": True}


def test_a_log_written_before_inputs_were_validated_still_replays():
    """Old arena logs kept every field a client sent; unknown ones were ignored then."""
    game = get_game("arena")
    settings = game.settings({"time_limit_seconds": 5})
    clean = [[0, 0, {"seq": 1, "mx": 1.0, "my": 0.0, "aim": 0.0, "fire": False}]]
    old = [[0, 0, {"seq": 1, "mx": 1, "my": 0, "aim": 0, "fire": False, "pad": "x" * 4096}]]
    old += [[3, 1, {"seq": 1, "mx": "left"}], [4, 1, ["not", "an", "object"]]]
    expected = replay(game, settings, 2, 5, clean)
    again = replay(game, settings, 2, 5, old)
    assert game.view(again, None) == game.view(expected, None)
    assert game.outcome(again) is not None
