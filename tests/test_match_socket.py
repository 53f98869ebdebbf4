"""The match socket through the real ASGI stack (origin check, session auth, routing),
on the channels-redis layer and a real Redis, with runners in this process."""

import pytest
from asgiref.sync import sync_to_async

from games import services
from games.engine import get_game
from games.engine.replay import replay
from games.models import Match, Participant, Player
from tests.runtime import connect, join

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]

db = sync_to_async


async def new_match(match_factory, game="connect_four", **options):
    return await db(match_factory)(game, **options)


async def start(match, *players):
    """Connect every player, mark them ready, and wait until everyone sees the start."""
    sockets = []
    for player in players:
        sock, welcome = await join(match, player)
        assert welcome["you"]["role"] == "player"
        sockets.append(sock)
    for sock in sockets:
        await sock.send(type="ready")
    for sock in sockets:
        frame = await sock.until("state")
        assert frame["events"][0]["kind"] == "started"
    return sockets


async def play_columns(sockets, seat_of, columns):
    """Play `columns` in order, each by whoever is to move, waiting for each move to land."""
    state = None
    for index, column in enumerate(columns):
        frame = await sockets[0].state_where(lambda s, n=index: s["moves"] == n)
        state = frame["state"]
        mover = sockets[seat_of.index(state["to_move"])]
        await mover.send(type="input", data={"column": column})
    return state


# --- Whole matches ------------------------------------------------------------------


async def test_two_players_play_connect_four_to_a_win(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    # Alice created the match (seat 0), Bob joined it (seat 1).
    state = await play_columns([a, b], [0, 1], [0, 1, 0, 1, 0, 1, 0])
    result_a = await a.until("result")
    result_b = await b.until("result")
    assert result_a == result_b
    winner_seat = result_a["seats"][0]["seat"] if result_a["seats"][0]["outcome"] == "win" else 1
    assert "four in a row" in result_a["summary"]
    assert result_a["rated"] is True
    assert {s["outcome"] for s in result_a["seats"]} == {"win", "loss"}
    assert all(s["rating_after"] is not None for s in result_a["seats"])

    stored = await db(Match.objects.get)(pk=match.pk)
    assert stored.status == "finished"
    winner = await db(Participant.objects.select_related("player").get)(
        match=match, seat=winner_seat
    )
    assert winner.outcome == "win" and winner.player.wins == 1
    assert winner.player.rating_ordinal > 0
    await assert_replay_matches(match)
    assert state is not None
    await a.close()
    await b.close()


async def test_two_players_play_connect_four_to_a_draw(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    draw = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0]
    draw += [2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2]
    draw += [4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4]
    draw += [6] * 6
    await play_columns([a, b], [0, 1], draw)
    result = await b.until("result", timeout=10)
    assert result["summary"] == "Draw: the board is full."
    assert {s["outcome"] for s in result["seats"]} == {"draw"}
    players = await db(list)(Player.objects.filter(participations__match=match))
    assert [p.draws for p in players] == [1, 1]
    await assert_replay_matches(match)
    await a.close()
    await b.close()


async def test_an_arena_match_runs_to_its_time_limit(match_factory, alice, bob):
    match = await new_match(
        match_factory, "arena", players=[alice, bob], settings={"time_limit_seconds": 5}
    )
    a, b = await start(match, alice, bob)
    await a.send(type="input", data={"seq": 1, "mx": 1, "my": 0, "aim": 0, "fire": False})
    acked = await b.state_where(lambda s: s["ships"][0]["ack"] == 1)
    assert acked["tick"] > 0
    # Seat 1 fires at seat 0 for the rest of the match.
    await b.send(type="input", data={"seq": 1, "mx": 0, "my": 0, "aim": 3.14159, "fire": True})
    result = await a.until("result", timeout=10)
    assert "time is up" in result["summary"] or "won" in result["summary"]
    stored = await db(Match.objects.get)(pk=match.pk)
    assert stored.status == "finished" and stored.result["summary"] == result["summary"]
    await assert_replay_matches(match)
    await a.close()
    await b.close()


async def assert_replay_matches(match):
    stored = await db(Match.objects.select_related("replay").get)(pk=match.pk)
    game = get_game(stored.game)
    again = replay(
        game,
        stored.replay.settings,
        stored.replay.seats,
        stored.replay.seed,
        stored.replay.entries(),
    )
    assert game.view(again, None) == stored.replay.final_state
    assert game.current_tick(again) == stored.replay.final_tick


# --- Welcome, spectators, chat, ping ------------------------------------------------------


async def test_welcome_names_the_seat_and_the_other_players(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, welcome = await join(match, alice)
    assert welcome["protocol"] == 1 and welcome["match"]["tick_rate"] == 10
    assert welcome["you"] == {"player_id": alice.pk, "seat": 0, "role": "player"}
    assert [p["name"] for p in welcome["players"]] == ["Alice", "Bob"]
    b, _ = await join(match, bob)
    await a.connected_players([True, True])
    await a.close()
    await b.close()


async def test_spectators_see_the_same_state_but_cannot_play(match_factory, alice, bob, stranger):
    match = await new_match(match_factory, players=[alice, bob])
    watcher, welcome = await join(match, stranger)
    assert welcome["you"]["role"] == "spectator" and welcome["you"]["seat"] is None
    a, b = await start(match, alice, bob)
    seen = await watcher.until("state")
    assert seen["events"][0]["kind"] == "started"
    await watcher.send(type="input", data={"column": 3})
    error = await watcher.until("error")
    assert error["code"] == "spectator"
    for sock in (a, b, watcher):
        await sock.close()


async def test_chat_reaches_everyone_and_is_limited(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, _ = await join(match, alice)
    b, _ = await join(match, bob)
    await a.send(type="chat", text="  good luck!  ")
    heard = await b.until("chat")
    assert heard["text"] == "good luck!" and heard["from"]["name"] == "Alice"
    await a.send(type="chat", text="x" * 201)
    assert (await a.until("error"))["code"] == "chat_limit"
    await a.close()
    await b.close()


async def test_ping_is_answered_with_server_time(match_factory, alice):
    match = await new_match(match_factory, seats=1, players=[alice])
    a, _ = await join(match, alice)
    await a.send(type="ping", id=7, t=123.5)
    pong = await a.until("pong")
    assert pong["id"] == 7 and pong["t"] == 123.5 and pong["server_time"] > 1.7e12
    await a.close()


async def test_inputs_before_the_start_are_refused_with_a_reason(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, _ = await join(match, alice)
    await a.send(type="input", data={"column": 3})
    error = await a.until("error")
    assert error["code"] == "not_active" and "not started" in error["message"]
    await a.close()


async def test_illegal_moves_are_refused_with_the_rule(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    welcome_state = (await a.state_where(lambda s: True))["state"]
    waiting = [a, b][1 - welcome_state["to_move"]]
    await waiting.send(type="input", data={"column": 3})
    error = await waiting.until("error")
    assert error["code"] == "illegal_input" and error["reason"] == "not_your_turn"
    await a.close()
    await b.close()


async def test_inputs_after_the_end_are_refused(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    await play_columns([a, b], [0, 1], [0, 1, 0, 1, 0, 1, 0])
    await a.until("result")
    await a.send(type="input", data={"column": 2})
    error = await a.until("error")
    assert error["code"] == "not_active" and "over" in error["message"]
    await a.close()
    await b.close()


# --- Refusals --------------------------------------------------------------------------------


async def test_no_session_is_refused_with_4001(match_factory):
    match = await new_match(match_factory)
    sock = await connect(match)
    assert await sock.closed() == 4001


async def test_a_banned_player_is_refused_with_4003(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    await db(services.ban_player)(bob, "cheating")
    sock = await connect(match, bob)
    assert await sock.closed() == 4003
    closing = [f for f in sock.seen if f["type"] == "closing"]
    assert closing == [{"type": "closing", "code": 4003, "reason": "You are banned: cheating"}]


async def test_a_stranger_cannot_watch_a_private_match(match_factory, alice, stranger):
    match = await new_match(match_factory, players=[alice], is_private=True)
    sock = await connect(match, stranger)
    assert await sock.closed() == 4003


async def test_an_unknown_match_is_refused_with_4004(alice):
    sock = await connect("00000000-0000-0000-0000-000000000001", alice)
    assert await sock.closed() == 4004


async def test_a_foreign_origin_is_refused_at_the_handshake(match_factory, alice):
    match = await new_match(match_factory, players=[alice])
    with pytest.raises(ConnectionRefusedError):
        await connect(match, alice, origin=b"https://evil.example")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"text": "no type"}', "unknown_type"),
        ('{"type": "input"}', "invalid"),
        ('{"type": "ping", "id": "x"}', "invalid"),
        ('{"type": "chat", "text": "hi", "extra": 1}', "invalid"),
        ('{"type": "chat", "text": "' + "x" * 5000 + '"}', "too_large"),
    ],
)
async def test_bad_frames_get_an_error_naming_the_problem(match_factory, alice, frame, code):
    match = await new_match(match_factory, players=[alice])
    sock, _ = await join(match, alice)
    await sock.send_raw(frame)
    error = await sock.until("error")
    assert error["code"] == code and error["message"]
    await sock.send(type="ping", id=1)
    assert (await sock.until("pong"))["id"] == 1, "the socket still works"
    await sock.close()


async def test_repeated_abuse_closes_the_socket_with_4008(match_factory, alice):
    match = await new_match(match_factory, players=[alice])
    sock, _ = await join(match, alice)
    for _ in range(25):
        await sock.send_raw("garbage")
    assert await sock.closed() == 4008


async def test_a_flood_is_rate_limited(match_factory, alice):
    match = await new_match(match_factory, players=[alice])
    sock, _ = await join(match, alice)
    for n in range(70):
        await sock.send(type="ping", id=n)
    codes = []
    for _ in range(70):
        frame = await sock.frame()
        codes.append(frame.get("code") or frame["type"])
    assert "rate_limited" in codes and codes.count("pong") >= 60
    await sock.close()


# --- Tickets ---------------------------------------------------------------------------------


async def test_a_ticket_opens_the_socket_once(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    from tests.conftest import client_for

    response = await db(lambda: client_for(alice).post(f"/api/matches/{match.pk}/ticket/"))()
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    sock = await connect(match, query=f"ticket={ticket}")
    welcome = await sock.until("welcome")
    assert welcome["you"]["player_id"] == alice.pk
    await sock.close()
    again = await connect(match, query=f"ticket={ticket}")
    assert await again.closed() == 4001


async def test_a_ticket_for_another_match_is_refused(match_factory, alice):
    mine = await new_match(match_factory, players=[alice])
    other = await new_match(match_factory, "arena", seats=1)
    from tests.conftest import client_for

    response = await db(lambda: client_for(alice).post(f"/api/matches/{mine.pk}/ticket/"))()
    sock = await connect(other, query=f"ticket={response.json()['ticket']}")
    assert await sock.closed() == 4001


# --- Reconnection -----------------------------------------------------------------------------


async def test_reconnecting_within_the_grace_period_resumes_the_seat(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    await play_columns([a, b], [0, 1], [3, 4])
    await b.close()
    await a.connected_players([True, False])
    b2, welcome = await join(match, bob)
    assert welcome["you"]["seat"] == 1
    assert welcome["state"]["moves"] >= 1 and welcome["match"]["status"] == "active"
    # Both moves are on the board: one disc in column 3, one in column 4.
    assert welcome["state"]["moves"] == 2
    assert [len(c) for c in welcome["state"]["board"][3:5]] == [1, 1]
    await a.connected_players([True, True])
    await a.close()
    await b2.close()


async def test_after_the_grace_period_the_leaver_forfeits(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    await b.close()
    result = await a.until("result", timeout=8)
    outcomes = {s["player_id"]: s["outcome"] for s in result["seats"]}
    assert outcomes == {alice.pk: "win", bob.pk: "abandoned"}
    await a.close()


async def test_a_second_connection_supersedes_the_first(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    first, _ = await join(match, alice)
    second, welcome = await join(match, alice)
    assert welcome["you"]["seat"] == 0
    assert await first.closed() == 4010
    await second.close()


# --- Idle sockets on Redis ------------------------------------------------------------------


async def test_an_idle_socket_stays_open_past_the_redis_socket_timeout(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, _ = await join(match, alice)
    await a.connected_players([True, False])
    # No traffic at all for 11 s: longer than redis-py 8's default 5 s socket timeout.
    # (receive_nothing, unlike a timed-out receive, leaves the consumer running.)
    assert await a.ws.receive_nothing(timeout=11, interval=0.5)
    b, _ = await join(match, bob)
    await a.connected_players([True, True])
    await a.close()
    await b.close()


async def test_when_every_player_is_gone_the_match_is_aborted(match_factory, alice, bob, stranger):
    match = await new_match(match_factory, "arena", players=[alice, bob])
    watcher, _ = await join(match, stranger)
    a, b = await start(match, alice, bob)
    await a.close()
    await b.close()
    aborted = await watcher.until("aborted", timeout=8)
    assert "every player left" in aborted["summary"]
    stored = await db(Match.objects.get)(pk=match.pk)
    assert stored.status == "aborted"
    await watcher.close()


async def test_an_operator_abort_reaches_the_players(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    await db(services.abort_match)(match.pk, "operator ended it")
    for sock in (a, b):
        assert (await sock.until("aborted"))["summary"] == "Aborted: operator ended it"
    await a.send(type="input", data={"column": 1})
    assert (await a.until("error"))["code"] == "not_active"
    await a.close()
    await b.close()


async def test_hidden_information_reaches_only_its_seat(
    match_factory, monkeypatch, alice, bob, stranger
):
    from games.engine import GAMES
    from tests.secret_game import SecretGame

    monkeypatch.setitem(GAMES, "secret", SecretGame())
    match = await new_match(match_factory, "secret", players=[alice, bob])
    watcher, _ = await join(match, stranger)
    a, b = await start(match, alice, bob)
    mine_a = (await a.until("state"))["state"]["mine"]
    mine_b = (await b.until("state"))["state"]["mine"]
    assert mine_a != mine_b
    seen_by_a = {f["state"]["mine"] for f in a.seen if f["type"] == "state"}
    seen_by_b = {f["state"]["mine"] for f in b.seen if f["type"] == "state"}
    assert seen_by_a == {mine_a} and seen_by_b == {mine_b}
    spectator_view = await watcher.until("state")
    assert spectator_view["state"]["mine"] is None
    assert all(f["state"]["mine"] is None for f in watcher.seen if f["type"] == "state")
    for sock in (a, b, watcher):
        await sock.close()


async def test_frames_of_a_runner_that_lost_its_lease_are_dropped(match_factory, alice):
    from channels.layers import get_channel_layer

    from games.runtime import messages

    match = await new_match(match_factory, players=[alice])
    sock, _ = await join(match, alice)
    layer = get_channel_layer()
    group = messages.match_group(match.pk)
    for fence, text in ((100, "from the new runner"), (50, "from a stale runner"), (100, "again")):
        frame = f'{{"type": "chat", "text": "{text}"}}'
        await layer.group_send(group, {"type": "match.frame", "fence": fence, "text": frame})
    first = await sock.until("chat")
    second = await sock.until("chat")
    assert [first["text"], second["text"]] == ["from the new runner", "again"]
    await sock.close()


async def test_presence_and_the_admins_live_view_show_who_is_connected(
    match_factory, alice, bob, admin_client_
):
    from games.cluster import presence
    from games.runtime.process import get_runtime

    match = await new_match(match_factory, players=[alice, bob])
    a, _ = await join(match, alice)
    b, _ = await join(match, bob)
    await a.connected_players([True, True])
    connections = await db(presence.current)()
    assert presence.by_match(connections)[str(match.pk)] == {alice.pk, bob.pk}

    page = (await db(admin_client_.get)("/admin/games/match/live/")).content.decode()
    assert "Alice" in page and "Bob" in page and str(match.pk)[:8] in page
    assert get_runtime().holder in page  # the process running the match

    await b.close()
    await a.connected_players([True, False])
    connections = await db(presence.current)()
    assert presence.by_match(connections)[str(match.pk)] == {alice.pk}
    await a.close()
