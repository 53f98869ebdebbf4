"""The live console: what it shows of a running match and its process, and its actions
(kick, message a match, abort, broadcast) reaching real sockets through the ASGI
stack on the channels-redis layer, with the roles' permissions and the audit log."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from games import services
from games.models import AuditAction, AuditEntry, Match, Participant
from games.runtime.process import get_runtime
from tests.runtime import connect
from tests.test_match_socket import new_match, start
from tests.test_matchmaking_socket import lobby

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]

db = sync_to_async
LIVE = "/admin/games/match/live/"
STATE = LIVE + "state/"
BROADCAST = LIVE + "broadcast/"


def staff(role: str | None, name: str) -> Client:
    """A logged-in staff account in the group `role` (None: staff without a role)."""
    call_command("create_roles", stdout=io.StringIO())
    user = User.objects.create_user(name, password="console-pass-42", is_staff=True)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, url: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(url, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def action(match: Match, name: str) -> str:
    return f"/admin/games/match/{match.pk}/{name}/"


async def state_where(client: Client, test: Any, timeout: float = 8.0) -> dict[str, Any]:
    """The console's answer, polled as its page does, until test(answer) holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = (await db(client.get)(STATE)).json()
        if test(answer):
            return answer
        assert loop.time() < deadline, f"the console never showed it: {answer}"
        await asyncio.sleep(0.2)  # the page's poll, faster


def row(answer: dict[str, Any], match: Match) -> dict[str, Any] | None:
    return next((m for m in answer["matches"] if m["id"] == str(match.pk)), None)


# --- What it shows ----------------------------------------------------------------------


async def test_the_console_shows_a_running_match_its_seats_and_the_process_running_it(
    match_factory, alice, bob, settings
):
    # Bob leaves below: his seat must outlast the next heartbeats (not forfeit at once).
    settings.MATCH_RECONNECT_GRACE_SECONDS = 30
    moderator = await db(staff)("moderator", "mod-watching")
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    holder = get_runtime().holder

    # Two heartbeats in, the runner's measured rate is there: Connect Four ticks 10 a second.
    answer = await state_where(
        moderator, lambda s: (row(s, match) or {}).get("ticks_per_second") is not None
    )
    shown = row(answer, match)
    assert shown is not None
    assert (shown["game"], shown["status"], shown["runner"]) == ("connect_four", "active", holder)
    assert [(p["name"], p["connected"]) for p in shown["players"]] == [
        ("Alice", True),
        ("Bob", True),
    ]
    assert shown["tick_rate"] == 10 and 5 <= shown["ticks_per_second"] <= 15
    assert shown["tick"] > 0
    (process,) = answer["processes"]
    assert process["holder"] == holder
    assert (process["match_sockets"], process["matches"], process["draining"]) == (2, 1, False)
    assert process["heartbeat_age"] < 3 and not process["stale"]
    assert process["lateness_p99_ms"] is not None and process["lateness_p99_ms"] >= 0
    assert answer["online"] == 2

    # It moves on with the match: the tick grows at the next heartbeats.
    first_tick = shown["tick"]
    await state_where(moderator, lambda s: row(s, match)["tick"] > first_tick)

    # Bob's leaving shows, in presence at once and in the process's sockets at its next
    # heartbeat. (Not the tick: if Alice is to move, her clock now waits for him.)
    await b.close()
    await state_where(
        moderator,
        lambda s: (
            [p["connected"] for p in row(s, match)["players"]] == [True, False]
            and s["processes"][0]["match_sockets"] == 1
        ),
    )
    await a.close()


async def test_the_live_page_renders_the_same_and_links_the_match_console(
    match_factory, alice, bob
):
    moderator = await db(staff)("moderator", "mod-page")
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    page = (await db(moderator.get)(LIVE)).content.decode()
    assert "Alice" in page and "Bob" in page and str(match.pk)[:8] in page
    assert get_runtime().holder in page
    assert f"/admin/games/match/{match.pk}/console/" in page
    assert 'id="broadcast-form"' not in page  # a moderator does not broadcast
    console = (await db(moderator.get)(f"/admin/games/match/{match.pk}/console/")).content
    assert b'id="kick-form"' in console and b'id="message-form"' in console
    assert b'id="abort-form"' not in console  # nor abort
    assert b"frontend/js/admin/match_console.js" in console
    await a.close()
    await b.close()


# --- Kick -------------------------------------------------------------------------------


async def test_a_kick_closes_the_players_socket_of_the_match_with_the_reason(
    match_factory, alice, bob
):
    moderator = await db(staff)("moderator", "mod-kicking")
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    b_lobby = await lobby(bob)
    status, answer = await db(post)(
        moderator, action(match, "kick"), {"player": bob.pk, "reason": "abusive chat"}
    )
    assert (status, answer) == (200, {"kicked": {"player_id": bob.pk, "seat": 1}})
    assert await b.closed(timeout=1) == 4005
    reason = "An operator removed you from this match: abusive chat"
    assert [f for f in b.seen if f["type"] == "closing"] == [
        {"type": "closing", "code": 4005, "reason": reason}
    ]
    # Not banned: his lobby socket stays open, but this match refuses him.
    await b_lobby.send(type="ping", id=1)
    await b_lobby.until("pong", id=1)
    again = await connect(match, bob)
    assert await again.closed() == 4003
    assert again.seen[-1]["reason"] == "An operator removed you from this match."
    # His seat follows the game's rule: after the grace period, a forfeit.
    await a.connected_players([True, False])
    result = await a.until("result", timeout=8)
    outcomes = {s["player_id"]: s["outcome"] for s in result["seats"]}
    assert outcomes == {alice.pk: "win", bob.pk: "abandoned"}
    entry = await AuditEntry.objects.aget(action=AuditAction.KICK)
    assert (entry.actor_name, entry.target_id, entry.reason) == (
        "mod-kicking",
        str(bob.pk),
        "abusive chat",
    )
    assert entry.details == {"match": str(match.pk)}
    await a.close()
    await b_lobby.close()


async def test_a_kick_is_refused_without_a_reason_for_a_stranger_and_twice(
    match_factory, alice, bob, stranger
):
    moderator = await db(staff)("moderator", "mod-refused")
    match = await new_match(match_factory, players=[alice, bob], status="active")
    url = action(match, "kick")
    cases = [
        ({"player": bob.pk, "reason": "  "}, 400, "A kick says why."),
        ({"player": stranger.pk, "reason": "x"}, 400, "That player has no seat in this match."),
        ({"player": bob.pk}, 400, "Invalid request body: Object missing required field `reason`"),
        ({"player": bob.pk, "reason": "x", "ban": True}, 400, "Invalid request body"),
        ({"player": "bob", "reason": "x"}, 400, "Invalid request body"),
    ]
    for body, status, message in cases:
        got, answer = await db(post)(moderator, url, body)
        assert got == status and answer["error"]["message"].startswith(message), (body, answer)
    assert (await db(post)(moderator, url, {"player": bob.pk, "reason": "spam"}))[0] == 200
    got, answer = await db(post)(moderator, url, {"player": bob.pk, "reason": "spam"})
    assert (got, answer["error"]["message"]) == (400, "Bob was removed from it already.")
    assert await AuditEntry.objects.filter(action=AuditAction.KICK).acount() == 1
    seat = await Participant.objects.aget(match=match, player=bob)
    assert seat.left_at is not None


async def test_a_finished_match_has_nobody_to_kick_message_or_abort(match_factory, alice, bob):
    operator = await db(staff)("operator", "op-late")
    match = await new_match(match_factory, players=[alice, bob], status="finished")
    for name, body in [
        ("kick", {"player": bob.pk, "reason": "x"}),
        ("message", {"text": "hello"}),
        ("abort-now", {"reason": "x"}),
    ]:
        status, answer = await db(post)(operator, action(match, name), body)
        assert status == 409, (name, answer)
    assert await AuditEntry.objects.acount() == 0


# --- Messages and broadcasts ------------------------------------------------------------


async def test_a_message_reaches_the_matchs_players_and_spectators_only(
    match_factory, alice, bob, stranger, player_factory
):
    moderator = await db(staff)("moderator", "mod-message")
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    watcher = await connect(match, stranger)
    await watcher.until("welcome")
    elsewhere = await lobby(await db(player_factory)("Elsewhere"))
    status, answer = await db(post)(
        moderator, action(match, "message"), {"text": " Please keep it friendly. "}
    )
    assert status == 200
    notice = {
        "type": "notice",
        "id": answer["message"]["id"],
        "kind": "match",
        "text": "Please keep it friendly.",
        "until": None,
    }
    for sock in (a, b, watcher):
        assert await sock.until("notice", timeout=1) == notice
    # Nothing on a lobby socket: up to the answer to a ping sent after, no notice came.
    await elsewhere.send(type="ping", id=7)
    await elsewhere.until("pong", id=7)
    assert [f for f in elsewhere.seen if f["type"] == "notice"] == []
    entry = await AuditEntry.objects.aget(action=AuditAction.MESSAGE)
    assert (entry.target_type, entry.target_id, entry.reason) == (
        "match",
        str(match.pk),
        "Please keep it friendly.",
    )
    for sock in (a, b, watcher, elsewhere):
        await sock.close()


async def test_a_broadcast_reaches_every_socket_and_waits_for_those_who_come_later(
    match_factory, alice, bob, client
):
    operator = await db(staff)("operator", "op-broadcast")
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    anonymous = await lobby()
    status, answer = await db(post)(
        operator, BROADCAST, {"text": "The server restarts in 5 minutes.", "minutes": 5}
    )
    assert status == 201
    sent = answer["broadcast"]
    for sock in (a, b, anonymous):
        frame = await sock.until("notice", timeout=1)
        assert (frame["id"], frame["kind"], frame["text"]) == (
            sent["id"],
            "broadcast",
            "The server restarts in 5 minutes.",
        )
        assert frame["until"] == sent["until"]
    # Someone who opens a page now reads it too; the console shows it.
    later = (await db(client.get)("/api/broadcast/")).json()
    assert later == {"broadcast": sent}
    assert (await db(operator.get)(STATE)).json()["broadcast"] == sent
    entry = await AuditEntry.objects.aget(action=AuditAction.BROADCAST)
    assert (entry.actor_name, entry.target_type, entry.target_name) == (
        "op-broadcast",
        "site",
        "every player",
    )
    assert entry.details == {"until": sent["until"]}
    for sock in (a, b, anonymous):
        await sock.close()


async def test_a_broadcast_ends_and_a_new_one_replaces_it(client):
    await db(services.broadcast)("First.", 5, by=None)
    second = await db(services.broadcast)("Second.", 5, by=None)
    assert (await db(client.get)("/api/broadcast/")).json()["broadcast"]["text"] == "Second."
    # Its end passes: nobody arriving sees it (the stored end moved into the past).
    past = (timezone.now() - timedelta(seconds=1)).isoformat()
    await db(_rewrite_until)(second.id, past)
    assert (await db(client.get)("/api/broadcast/")).json() == {"broadcast": None}


def _rewrite_until(pk: int, until: str) -> None:
    # The log refuses updates; a test moves a stored end back with SQL, as time would.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE games_auditentry SET details = %s WHERE id = %s",
            [json.dumps({"until": until}), pk],
        )


async def test_a_broadcast_is_checked():
    operator = await db(staff)("operator", "op-checked")
    for body, message in [
        ({"text": ""}, "Write the message."),
        ({"text": "x" * 201}, "At most 200 characters."),
        ({"text": "ok", "minutes": 0}, "A broadcast is shown for 1 to 60 minutes."),
        ({"text": "ok", "minutes": 61}, "A broadcast is shown for 1 to 60 minutes."),
    ]:
        status, answer = await db(post)(operator, BROADCAST, body)
        assert (status, answer["error"]["message"]) == (400, message), body
    assert await AuditEntry.objects.acount() == 0


# --- Roles ------------------------------------------------------------------------------


async def test_a_moderator_may_not_broadcast_or_abort(match_factory, alice, bob):
    moderator = await db(staff)("moderator", "mod-limits")
    match = await new_match(match_factory, players=[alice, bob], status="active")
    status, answer = await db(post)(moderator, BROADCAST, {"text": "Hello."})
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    status, answer = await db(post)(moderator, action(match, "abort-now"), {"reason": "stuck"})
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert (await Match.objects.aget(pk=match.pk)).status == "active"
    assert await AuditEntry.objects.acount() == 0


async def test_an_operator_aborts_from_the_console(match_factory, alice, bob):
    operator = await db(staff)("operator", "op-abort")
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    status, answer = await db(post)(operator, action(match, "abort-now"), {"reason": "stuck"})
    assert (status, answer["match"]["status"]) == (200, "aborted")
    frame = await a.until("aborted", timeout=1)
    assert frame["summary"] == "Aborted: stopped by an operator (stuck)"
    entry = await AuditEntry.objects.aget(action=AuditAction.ABORT)
    assert (entry.actor_name, entry.reason) == ("op-abort", "stuck")
    await a.close()
    await b.close()


async def test_staff_without_a_role_and_players_are_kept_out(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob], status="active")
    nobody = await db(staff)(None, "staff-no-role")
    assert (await db(nobody.get)(STATE)).status_code == 403
    assert (await db(nobody.get)(LIVE)).status_code == 403
    status, _ = await db(post)(nobody, action(match, "kick"), {"player": bob.pk, "reason": "x"})
    assert status == 403
    player = Client()
    await db(player.force_login)(alice.user)
    # Not staff: the admin's login page, as for every admin URL.
    assert (await db(player.get)(STATE)).status_code == 302
    response = await db(player.post)(
        action(match, "kick"), json.dumps({"player": bob.pk, "reason": "x"}), "application/json"
    )
    assert response.status_code == 302
    assert await AuditEntry.objects.acount() == 0


async def test_the_actions_need_the_csrf_token_and_a_post(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob], status="active")
    user = await db(User.objects.create_superuser)("root-csrf", "r@example.com", "pass-42-root")
    strict = Client(enforce_csrf_checks=True)
    await db(strict.force_login)(user)
    body = json.dumps({"player": bob.pk, "reason": "x"})
    response = await db(strict.post)(action(match, "kick"), body, "application/json")
    assert response.status_code == 403
    assert (await db(strict.get)(action(match, "kick"))).status_code == 405
    assert await AuditEntry.objects.acount() == 0
