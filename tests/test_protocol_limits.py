"""Inbound frames bounded in depth: too deep is `malformed` wherever the nesting sits."""

import json

import pytest

from games import jsonlimits, protocol
from games.protocol import MAX_JSON_DEPTH, ErrorCode

DEEP = 1_000  # ~2 KB: nested this far, msgspec raised RecursionError


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def positions(value: str) -> list[str]:
    """`value` in every place of a frame: a field's value, an unknown field before and
    after the type, the type itself, inside an input's data and the frame itself."""
    return [
        value,
        f'{{"type":"input","data":{value}}}',
        f'{{"type":"input","data":{{"mx":{value}}}}}',
        f'{{"data":{{"mx":{value}}},"type":"input"}}',
        f'{{"type":"input","data":{{}},"ack":{value}}}',
        f'{{"x":{value},"type":"input","data":{{}}}}',
        f'{{"type":"input","data":{{}},"x":{value}}}',
        f'{{"type":{value}}}',
        f'{{"type":"chat","text":{value}}}',
        f'{{"text":{value},"type":"chat"}}',
        f'{{"type":"ping","id":1,"t":{value}}}',
        f'{{"tick":{value},"type":"ack"}}',
        f'{{"type":"queue","game":{value}}}',
        f'{{"game":{value},"type":"queue"}}',
        f'[{{"type":"ping","id":1}},{value}]',
    ]


FRAMES = [f for v in (nested(DEEP), nested_objects(300), nested(DEEP, "{}")) for f in positions(v)]
FRAMES += ['{"type":"input","data":' + "[" * 2_000]  # unterminated: still nested 2,000 deep


@pytest.mark.parametrize("decode", [protocol.decode, protocol.decode_lobby])
@pytest.mark.parametrize("frame", FRAMES, ids=range(len(FRAMES)))
def test_a_frame_nested_too_deep_is_malformed_wherever_the_nesting_is(decode, frame):
    assert len(frame) <= protocol.MAX_MESSAGE_BYTES
    for data in (frame, frame.encode()):  # text and binary frames
        with pytest.raises(protocol.ProtocolError) as refused:
            decode(data)
        assert refused.value.code == ErrorCode.MALFORMED
        assert f"at most {MAX_JSON_DEPTH} levels" in refused.value.message


def test_a_frame_at_the_depth_limit_is_decoded():
    inner = nested(MAX_JSON_DEPTH - 2)
    message = protocol.decode(f'{{"type":"input","data":{{"cards":{inner}}}}}')
    assert isinstance(message, protocol.Input)
    assert json.loads(bytes(message.data)) == {"cards": json.loads(inner)}
    too_deep = f'{{"type":"input","data":{{"cards":{nested(MAX_JSON_DEPTH - 1)}}}}}'
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(too_deep)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = "[" * 1_000 + '\\"]' + "{" * 500
    message = protocol.decode(json.dumps({"type": "chat", "text": text}))
    assert isinstance(message, protocol.Chat) and message.text == text


@pytest.mark.parametrize(
    ("text", "deepest"),
    [
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('"[[[["', 0),
        ('["\\"[[", ["\\\\"], [[]]]', 3),
        ("[[]][[]][[]]", 2),
        ("]]]]][[", 2),
        ('["unterminated [[[[[[', 1),
    ],
)
def test_the_depth_check_counts_only_real_nesting(text, deepest):
    for data in (text, text.encode()):
        assert not jsonlimits.too_deep(data, deepest)
        assert deepest == 0 or jsonlimits.too_deep(data, deepest - 1)
