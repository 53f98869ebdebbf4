"""The operators' live console in the admin: what runs now, and the actions on it.

A page polls `GET .../live/state/` every 2 seconds (console.js) and draws
what it answers: live matches (game, status, seats and whether each player is
connected, tick, measured and set tick rate, the process running it) and every
live process (sockets, runners, tick lateness p99, last heartbeat, draining).
A poll rather than an admin socket: the admin runs on plain Django requests,
which any process (or a process that serves no sockets) answers, a lost poll
costs nothing, and the figures it shows change at the processes' heartbeat
(2 s) anyway. A poll costs one presence read and one process-records read in
Redis, and two queries (the live matches' seats; the current broadcast).

The actions are JSON POSTs with the admin's CSRF token: kick a player, send a
message to a match, abort a match, broadcast to everyone. Each checks its
permission (403 otherwise), validates its body (400 with the field), calls one
service, which writes the audit entry, and answers JSON.

Mounted by `MatchAdmin.get_urls`, each behind `admin_site.admin_view` (staff
only). Like the admin, this sees the live side only through `games.cluster`
and `games.services`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from games import services
from games.cluster import leases, presence, processes
from games.models import Match, MatchStatus, Participant
from games.views import ApiError, _body, api_view

# Live matches listed at most (the latest created first).
MAX_MATCHES = 200
# A record older than this many heartbeats: its process's event loop is stalled, or it died.
STALE_HEARTBEATS = 3

Text = Annotated[str, msgspec.Meta(max_length=1000)]  # trimmed and checked by the services


class KickRequest(msgspec.Struct, forbid_unknown_fields=True):
    player: int
    reason: Text


class MessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: Text


class AbortRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


class BroadcastRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    minutes: int = 10


def _require(request: HttpRequest, permission: str, what: str) -> None:
    if not request.user.has_perm(f"games.{permission}"):
        raise ApiError(403, "forbidden", f"Your role may not {what}.")


# --- What runs now ---------------------------------------------------------------------


def snapshot() -> dict[str, Any]:
    """Live matches, live processes, who is online and the broadcast shown, as JSON."""
    now = time.time()
    connections = presence.current()
    per_match = presence.by_match(connections)
    records = processes.current()
    running = {r.match: (record, r) for record in records for r in record.runners}
    return {
        "at": now,
        "online": len(presence.online_players(connections)),
        "matches": _matches(per_match, running),
        "processes": [_process(record, now) for record in records],
        "broadcast": _broadcast(services.current_broadcast()),
        "heartbeat_seconds": processes.HEARTBEAT_SECONDS,
    }


def _matches(
    per_match: dict[str, set[int]],
    running: dict[str, tuple[processes.ProcessRecord, processes.RunnerRecord]],
) -> list[dict[str, Any]]:
    # Active matches, and waiting ones someone is connected to (not every open lobby entry).
    live = Match.objects.filter(
        Q(status=MatchStatus.ACTIVE) | Q(status=MatchStatus.WAITING, pk__in=list(per_match))
    ).order_by("-created_at")
    seats = (
        Participant.objects.filter(match_id__in=live.values("pk")[:MAX_MATCHES])
        .select_related("match", "player")
        .order_by("-match__created_at", "match_id", "seat")
    )
    rows: dict[str, dict[str, Any]] = {}
    for seat in seats:
        key = str(seat.match_id)
        connected = per_match.get(key, set())
        row = rows.get(key)
        if row is None:
            row = rows[key] = _match(seat.match, running.get(key), connected)
        row["players"].append(
            {
                "seat": seat.seat,
                "player_id": seat.player_id,
                "name": seat.player.display_name,
                "bot": seat.player.is_bot,
                "connected": seat.player.is_bot or seat.player_id in connected,
                "kicked": seat.left_at is not None,
            }
        )
        row["spectators"] = len(connected - {p["player_id"] for p in row["players"]})
    return list(rows.values())


def _match(
    match: Match,
    run: tuple[processes.ProcessRecord, processes.RunnerRecord] | None,
    connected: set[int],
) -> dict[str, Any]:
    if run is None:
        # Not in a heartbeat yet (a runner younger than 2 s), or nobody runs it.
        holder, runner, lateness = leases.holder_sync(str(match.pk)), None, None
    else:
        holder, runner, lateness = run[0].holder, run[1], run[0].lateness_p99_ms
    return {
        "id": str(match.pk),
        "game": match.game,
        "status": match.status,
        "private": match.is_private,
        "started_at": match.started_at.isoformat() if match.started_at else None,
        "runner": holder,
        "tick": runner.tick if runner else None,
        "tick_rate": runner.tick_rate if runner else None,
        "ticks_per_second": runner.ticks_per_second if runner else None,
        "lateness_p99_ms": lateness,
        "players": [],
        "spectators": len(connected),
        "console_url": reverse("admin:games_match_console", args=[match.pk]),
    }


def _process(record: processes.ProcessRecord, now: float) -> dict[str, Any]:
    age = record.age(now)
    return {
        "holder": record.holder,
        "host": record.host,
        "pid": record.pid,
        "match_sockets": record.match_sockets,
        "lobby_sockets": record.lobby_sockets,
        "matches": len(record.runners),
        "lateness_p99_ms": record.lateness_p99_ms,
        "heartbeat_age": round(age, 1),
        "stale": age > STALE_HEARTBEATS * processes.HEARTBEAT_SECONDS,
        "draining": record.draining,
        "up_seconds": int(now - record.started_at),
    }


def _broadcast(broadcast: services.Broadcast | None) -> dict[str, Any] | None:
    if broadcast is None:
        return None
    return {"id": broadcast.id, "text": broadcast.text, "until": broadcast.until.isoformat()}


@api_view("GET")
def state(request: HttpRequest) -> HttpResponse:
    """The console's data, polled by its page."""
    _require(request, "view_match", "see the live console")
    return JsonResponse(snapshot())


# --- Actions ---------------------------------------------------------------------------


@api_view("POST")
def kick(request: HttpRequest, match_id: str) -> HttpResponse:
    """Remove a player from a live match, with a reason they read: 200 with who."""
    _require(request, "kick_player", "remove players from matches")
    body = _body(request, KickRequest)
    seat = services.kick_player(match_id, body.player, body.reason, by=request.user)
    return JsonResponse({"kicked": {"player_id": seat.player_id, "seat": seat.seat}})


@api_view("POST")
def message(request: HttpRequest, match_id: str) -> HttpResponse:
    """A message to a live match's players and spectators: 200 with its id."""
    _require(request, "message_match", "send messages to matches")
    body = _body(request, MessageRequest)
    entry = services.message_match(match_id, body.text, by=request.user)
    return JsonResponse({"message": {"id": entry.pk, "text": entry.reason}})


@api_view("POST")
def abort(request: HttpRequest, match_id: str) -> HttpResponse:
    """Abort a live match with a reason its players read: 200 with its status."""
    _require(request, "abort_match", "abort matches")
    body = _body(request, AbortRequest)
    if not body.reason.strip():
        raise ApiError(400, "invalid_request", "An abort says why.")
    match = services.abort_match_by_operator(match_id, body.reason, by=request.user)
    return JsonResponse({"match": {"id": str(match.pk), "status": match.status}})


@api_view("POST")
def broadcast(request: HttpRequest) -> HttpResponse:
    """A message to every connected player, shown for `minutes` to those who arrive: 201."""
    _require(request, "broadcast", "broadcast to every player")
    body = _body(request, BroadcastRequest)
    sent = services.broadcast(body.text, body.minutes, by=request.user)
    return JsonResponse({"broadcast": _broadcast(sent)}, status=201)


# The console's JSON views, by the admin URL name they are mounted at.
VIEWS: dict[str, tuple[str, Callable[..., HttpResponse]]] = {
    "games_live_state": ("live/state/", state),
    "games_live_broadcast": ("live/broadcast/", broadcast),
    "games_match_kick": ("<uuid:match_id>/kick/", kick),
    "games_match_message": ("<uuid:match_id>/message/", message),
    "games_match_abort_now": ("<uuid:match_id>/abort-now/", abort),
}
