"""docs/protocol.md against the protocol it describes: every outbound frame and field of
the declared schemas documented (and nothing that is not sent), the close and error
codes, and the rules a client relies on (ticks, seats) against the running server."""

from __future__ import annotations

import itertools
import json
import re
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import msgspec
import pytest
from asgiref.sync import sync_to_async

from games import protocol

DOC_DIR = Path(__file__).resolve().parent.parent / "docs"
DOC = (DOC_DIR / "protocol.md").read_text()

FRAME_HEADING = re.compile(r"^#{3,4} `(\w+)`$")
LIBRARY_CLOSE_CODES = {1006, 1011}  # reported by WebSocket libraries, never sent by us


def sections(doc: str) -> dict[str, list[str]]:
    """Heading text -> the lines under it, up to the next heading."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False  # inside a code block, where "#" starts a comment
    for line in doc.splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced:
            current = found.setdefault(line.lstrip("#").strip(), [])
        elif current is not None:
            current.append(line)
    return found


def tables(lines: list[str]) -> list[list[list[str]]]:
    """Every markdown table in `lines`, as rows of cells (header row first, rule dropped)."""
    found: list[list[list[str]]] = []
    rows: list[list[str]] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= {"-", ":"} for cell in cells):
                rows.append(cells)
        elif rows:
            found.append(rows)
            rows = []
    return found


def documented_frames() -> dict[str, dict[str, str]]:
    """Frame type -> {field path: documented type}, from each `type` heading's field table."""
    frames: dict[str, dict[str, str]] = {}
    for line in DOC.splitlines():
        if match := FRAME_HEADING.match(line):
            kind = match.group(1)
            assert kind not in frames, f"`{kind}` is documented twice"
            body = sections(DOC)[line.lstrip("#").strip()]
            fields = [t for t in tables(body) if t[0] == ["field", "type", "meaning"]]
            assert len(fields) == 1, f"`{kind}` needs one | field | type | meaning | table"
            frames[kind] = {row[0].strip("`"): row[1] for row in fields[0][1:]}
    return frames


def doc_type(annotation: Any, optional: bool = False) -> str:
    """How the doc writes a field's type: integer, number, string, boolean, object, array;
    "or null" when it may be null, ", optional" when it is left out instead."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        return doc_type(args[0]) + (", optional" if optional else " or null")
    if get_origin(annotation) is Literal:
        return "string"
    if get_origin(annotation) is list:
        return "array"
    if get_origin(annotation) is dict or (
        isinstance(annotation, type) and issubclass(annotation, msgspec.Struct | dict)
    ):
        return "object"
    names = {int: "integer", float: "number", str: "string", bool: "boolean"}
    return names[annotation]


def schema_fields(schema: type[msgspec.Struct], prefix: str = "") -> dict[str, str]:
    """Field path -> the type the doc must give it, for every field a frame can carry."""
    fields: dict[str, str] = {}
    hints = msgspec.structs.fields(schema)
    for field in hints:
        path = prefix + field.encode_name
        optional = schema.__struct_config__.omit_defaults and field.default is None
        fields[path] = doc_type(field.type, optional)
        union = get_origin(field.type) in (Union, types.UnionType)
        for candidate in get_args(field.type) if union else (field.type,):
            if get_origin(candidate) is list:
                (element,) = get_args(candidate)
                if isinstance(element, type) and issubclass(element, msgspec.Struct):
                    fields |= schema_fields(element, path + "[].")
            elif isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
                fields |= schema_fields(candidate, path + ".")
    return fields


# --- Frames and fields --------------------------------------------------------------------


def test_the_doc_documents_every_frame_type_sent_and_no_other():
    assert set(documented_frames()) == set(protocol.SCHEMAS)


@pytest.mark.parametrize("kind", sorted(protocol.SCHEMAS))
def test_the_doc_documents_every_field_of_each_frame_with_its_type(kind):
    documented = documented_frames()[kind]
    declared = schema_fields(protocol.SCHEMAS[kind])
    assert sorted(set(declared) - set(documented)) == [], "sent but not documented"
    assert sorted(set(documented) - set(declared)) == [], "documented but never sent"
    assert {path: documented[path] for path in declared} == declared


def test_the_schema_reading_tells_null_from_optional():
    # The doc checks above are only as good as this reading of the tables.
    assert schema_fields(protocol.UnqueuedFrame)["reason"] == "string or null"
    assert schema_fields(protocol.ErrorFrame)["reason"] == "string, optional"
    assert schema_fields(protocol.WelcomeFrame)["result.seats[].rank"] == "integer or null"


# --- Codes ------------------------------------------------------------------------------


def close_code_table() -> list[list[str]]:
    (table,) = tables(sections(DOC)["Close codes"])
    assert table[0][:2] == ["code", "meaning"]
    return table[1:]


def test_the_close_codes_table_lists_exactly_the_codes_the_server_sends():
    sent = {value for name, value in vars(protocol.CloseCode).items() if name.isupper()}
    documented = [int(row[0]) for row in close_code_table()]
    assert len(documented) == len(set(documented))
    assert set(documented) == sent | LIBRARY_CLOSE_CODES
    assert sent.isdisjoint(LIBRARY_CLOSE_CODES)


def test_the_close_codes_that_say_do_not_reconnect_are_the_ones_clients_must_not_retry():
    # CloseCode's docstring names them; the doc's third column says "no" for exactly those.
    named = set(re.findall(r"\b4\d{3}\b", protocol.CloseCode.__doc__ or ""))
    final = {value for value in vars(protocol.CloseCode).values() if str(value) in named}
    documented = {int(row[0]) for row in close_code_table() if row[2].startswith("no")}
    assert documented == final


def test_every_error_code_is_documented_in_an_error_table():
    codes = {value for name, value in vars(protocol.ErrorCode).items() if name.isupper()}
    documented: set[str] = set()
    for lines in sections(DOC).values():
        for table in tables(lines):
            if table[0][:2] == ["code", "meaning"]:
                for row in table[1:]:
                    documented |= set(re.findall(r"`(\w+)`", row[0]))
    assert documented == codes


# --- The rules a client relies on ---------------------------------------------------------


def test_the_doc_says_who_moves_first_and_how_seats_are_numbered():
    seats = "\n".join(sections(DOC)["Seats, players and turns"])
    assert "Player `n + 1`" in seats and "`seat: 1` won" in seats
    assert "seed picks the seat that opens" in seats and "state.to_move" in seats


def ticks_follow_the_documented_rule(ticks: list[int]) -> bool:
    """Never decreasing; strictly increasing except that the last may repeat the one before."""
    body = ticks[:-1]
    increasing = all(a < b for a, b in itertools.pairwise(body))
    return increasing and (len(ticks) < 2 or ticks[-2] <= ticks[-1])


def test_the_tick_rule_check_refuses_what_the_doc_rules_out():
    assert ticks_follow_the_documented_rule([0, 1, 2, 6, 6])
    assert not ticks_follow_the_documented_rule([0, 1, 1, 2])
    assert not ticks_follow_the_documented_rule([0, 2, 1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_state_and_replay_ticks_follow_the_documented_rule(match_factory, alice, bob):
    from games.models import Replay
    from games.replays import replay_frames
    from tests.runtime import join

    match = await sync_to_async(match_factory)("connect_four", players=[alice, bob])
    a, _ = await join(match, alice)
    b, _ = await join(match, bob)
    for sock in (a, b):
        await sock.send(type="ready")
    first = (await a.until("state"))["state"]["to_move"]
    movers = [a, b] if first == 0 else [b, a]
    for index, column in enumerate([0, 1, 0, 1, 0, 1, 0]):  # the opener wins, vertically
        await a.state_where(lambda s, n=index: s["moves"] == n)
        await movers[index % 2].send(type="input", data={"column": column})
    result = await a.until("result")
    assert result["summary"] == f"Player {first + 1} wins: four in a row."
    ticks = [frame["tick"] for frame in a.seen if frame["type"] == "state"]
    assert ticks_follow_the_documented_rule(ticks), ticks
    stored = await Replay.objects.aget(match_id=match.pk)
    frames = await sync_to_async(replay_frames)(stored)
    replayed = [frame["tick"] for frame in frames["frames"]]
    assert ticks_follow_the_documented_rule(replayed), replayed
    assert replayed[-1] == replayed[-2]  # the winning move ends the match at its own tick
    await a.close()
    await b.close()


# --- The session recipe of docs/api.md --------------------------------------------------

API_DOC = DOC_DIR / "api.md"


def session_recipe() -> str:
    """The Python block under "A session for a script", as a reader would copy it."""
    body = "\n".join(sections(API_DOC.read_text())["A session for a script"])
    (code,) = re.findall(r"```python\n(.*?)```", body, re.DOTALL)
    return code


@pytest.mark.django_db(transaction=True)
def test_the_documented_session_recipe_runs_and_gets_a_guest_a_ticket(live_server, capsys):
    from games.models import Match, Player

    code = session_recipe()
    assert 'BASE = "http://127.0.0.1:8000"' in code
    exec(code.replace("http://127.0.0.1:8000", live_server.url), {"__name__": "recipe"})
    printed = capsys.readouterr().out.splitlines()
    guest = Player.objects.get()
    assert guest.is_guest and printed[0] == f"playing as {guest.display_name}"
    match = Match.objects.get()
    assert match.participants.get().player == guest
    assert printed[1].startswith(f"connect to ws://{live_server.url[7:]}/ws/match/{match.pk}/")
    assert "?ticket=" in printed[1]


# --- Inbound frames ---------------------------------------------------------------------


def inbound_table(heading: str, first: str) -> dict[str, str]:
    """Type -> its fields cell, from the table whose header starts with `first`."""
    (table,) = [t for t in tables(sections(DOC)[heading]) if t[0][0] == first]
    return {row[0].strip("`"): row[1] for row in table[1:]}


@pytest.mark.parametrize(
    ("heading", "first", "union"),
    [
        ("Client to server", "type", protocol.Inbound),
        ('Matchmaking ("Play now")', "client → server", protocol.LobbyInbound),
    ],
)
def test_the_doc_lists_every_inbound_type_with_its_fields(heading, first, union):
    documented = inbound_table(heading, first)
    declared = {str(s.__struct_config__.tag): s for s in get_args(union)}
    assert set(documented) == set(declared)
    for kind, schema in declared.items():
        names = set(re.findall(r"`(\w+)`", documented[kind]))
        assert names == {f.encode_name for f in msgspec.structs.fields(schema)}, kind


# --- Examples -----------------------------------------------------------------------------


def json_examples() -> list[dict[str, Any]]:
    """Every JSON object of the doc's ```json blocks (a block holds one or several)."""
    decoder = json.JSONDecoder()
    found = []
    for block in re.findall(r"```json\n(.*?)```", DOC, re.DOTALL):
        text, index = block.strip(), 0
        while index < len(text):
            example, index = decoder.raw_decode(text, index)  # fails on a block that is not JSON
            found.append(example)
            while index < len(text) and text[index].isspace():
                index += 1
    return found


def test_every_example_frame_in_the_doc_is_one_the_server_would_accept_or_send():
    examples = json_examples()
    sent = set()
    for example in examples:
        text = json.dumps(example)
        try:
            protocol.decode(text)  # the match socket's client frames
            continue
        except protocol.ProtocolError:
            pass
        try:
            protocol.decode_lobby(text)  # the lobby socket's
            continue
        except protocol.ProtocolError:
            pass
        msgspec.convert(example, protocol.SCHEMAS[example["type"]])
        sent.add(example["type"])
    assert {"welcome", "state", "result", "error", "lobby", "queued", "matched"} <= sent
