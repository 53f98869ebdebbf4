"""Rematches: the same players, in the same seats, in a new match, once every person agrees.

A finished match's rematch is asked for, agreed to, declined or given up (a
player who leaves the result screen) by its people; its bots are seated again
without being asked, so against the computer a rematch starts at once. Once
every person of the match wants it, the new match is made in the transaction of
the last "yes", and every person hears `matched` on their lobby sockets, as
from the queue. Until then each change is announced to the other people of the
match (`rematch` frames, after commit), so their result screen says "X wants a
rematch" or "X declined".

Where the answers are kept: under "rematch" in the finished match's `result`,
written only here, with the match row locked. A finished match's result never
changes otherwise, so this needs no table of its own, and the answers go when
the match does.

A rematch applies the rules of every way to a seat: a banned player, a player
seated in a match in progress and, for a public (rated) match, a player in a
queue cooldown may not start one; a person the rules refuse when the last
"yes" comes is counted as unavailable, and the rematch is off.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from games import protocol
from games.models import Match, MatchStatus, Participant, Player
from games.services import announce
from games.services.cooldowns import check_cooldown, current_cooldown
from games.services.errors import MatchNotFound, MatchNotJoinable, ServiceError
from games.services.lifecycle import _locked_match
from games.services.players import check_can_play
from games.services.queueing import _give_up_waiting_seats, _lock_and_check
from games.services.seating import _CODE_ALPHABET, check_not_playing

Why = protocol.RematchWhy
Status = Literal["none", "waiting", "declined", "started"]

_KEY = "rematch"


@dataclass(frozen=True)
class RematchPlayer:
    """A person of the finished match, as a rematch names them."""

    player_id: int
    name: str


@dataclass(frozen=True)
class RematchDecline:
    """Someone who will not play the rematch, and why: declined, left the page, unavailable."""

    player_id: int
    name: str
    why: Why


@dataclass(frozen=True)
class RematchState:
    """Where a finished match's rematch stands.

    `status` is "none" (nobody asked), "waiting" (some asked, `waiting_for` have
    not answered), "declined" (someone in `declined` will not play: it is off) or
    "started" (`new_match_id` is the rematch).
    """

    match_id: str
    game: str
    status: Status
    wants: list[RematchPlayer] = field(default_factory=list)
    waiting_for: list[RematchPlayer] = field(default_factory=list)
    declined: list[RematchDecline] = field(default_factory=list)
    new_match_id: str | None = None


def rematch_state(player: Player, match_id: Any) -> RematchState:
    """The rematch of a finished match, as one of its people sees it (MatchNotFound otherwise)."""
    try:
        match = Match.objects.get(pk=match_id)
    except (Match.DoesNotExist, ValueError, ValidationError) as exc:
        raise MatchNotFound("No such match.") from exc
    seats = _people(match, player)
    return _state(match, seats)


def ask_rematch(player: Player, match_id: Any) -> RematchState:
    """Ask for (or agree to) a rematch of a finished match `player` played.

    One transaction with the match locked. The last person to agree starts it: a
    new match of the same game, settings, privacy and seats (colours stay), with
    the bots seated again. Raises MatchNotFound (not a person of that match),
    MatchNotJoinable (the match is not finished), PlayerBanned, AlreadyPlaying
    or QueueCooldown (public matches) for the player asking. A rematch someone
    declined stays off: the answer says who, and nothing changes.
    """
    check_can_play(player)
    check_not_playing(player)
    with transaction.atomic():
        match = _locked_match(match_id)
        seats = _people(match, player)
        if match.status != MatchStatus.FINISHED:
            raise MatchNotJoinable("Only a finished match can be played again.")
        if not match.is_private:
            check_cooldown(player)
        offer = _offer(match)
        if offer["match"] or offer["declined"]:
            return _state(match, seats)
        if player.pk not in offer["wants"]:
            offer["wants"].append(player.pk)
        people = [p.player_id for p in seats if not p.player.is_bot]
        if set(people) <= set(offer["wants"]):
            _start(match, seats, offer, people)
        _save(match, offer)
        state = _state(match, seats)
        if state.status != "started":
            announce.rematch_on_commit(_others(people, player), _frame(state))
        return state


def decline_rematch(player: Player, match_id: Any, why: Why = "declined") -> RematchState:
    """Say no to a finished match's rematch (`why`: "declined", or "left" the result screen).

    Once started, a rematch is a match like any other: declining changes nothing.
    Raises MatchNotFound (not a person of that match) or MatchNotJoinable (not finished).
    """
    with transaction.atomic():
        match = _locked_match(match_id)
        seats = _people(match, player)
        if match.status != MatchStatus.FINISHED:
            raise MatchNotJoinable("Only a finished match can be played again.")
        offer = _offer(match)
        if offer["match"] or any(d["player"] == player.pk for d in offer["declined"]):
            return _state(match, seats)
        offer["declined"].append({"player": player.pk, "why": why})
        if player.pk in offer["wants"]:
            offer["wants"].remove(player.pk)
        _save(match, offer)
        state = _state(match, seats)
        people = [p.player_id for p in seats if not p.player.is_bot]
        announce.rematch_on_commit(_others(people, player), _frame(state))
        return state


def _start(
    match: Match, seats: list[Participant], offer: dict[str, Any], people: list[int]
) -> None:
    """Make the rematch (match locked by the caller), or mark who the rules refuse."""
    players, refused = _lock_and_check(people)
    if not match.is_private:
        for pid, person in players.items():
            if pid not in refused and current_cooldown(person) is not None:
                refused[pid] = "cooldown"
    if refused:
        offer["declined"] += [{"player": pid, "why": "unavailable"} for pid in sorted(refused)]
        offer["wants"] = [pid for pid in offer["wants"] if pid not in refused]
        return
    for pid in people:
        _give_up_waiting_seats(players[pid])
    new = _new_match(match, players[people[0]])
    Participant.objects.bulk_create(
        Participant(match=new, player_id=p.player_id, seat=p.seat) for p in seats
    )
    offer["match"] = str(new.pk)
    announce.lobby_change_on_commit()
    announce.matched_on_commit(new.pk, new.game, people)


def _new_match(old: Match, creator: Player) -> Match:
    for _ in range(10):
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6)) if old.is_private else None
        try:
            with transaction.atomic():  # a savepoint: a join code that collided is drawn again
                return Match.objects.create(
                    game=old.game,
                    created_by=creator,
                    max_players=old.max_players,
                    is_private=old.is_private,
                    join_code=code,
                    settings=old.settings,
                    seed=secrets.randbits(62),
                )
        except IntegrityError:
            if not old.is_private:
                raise
    raise ServiceError("Could not allocate a join code; try again.")


def _people(match: Match, player: Player) -> list[Participant]:
    """The match's seats, players loaded; MatchNotFound unless `player` is a person in one."""
    seats = list(match.participants.select_related("player").order_by("seat"))
    if player.is_bot or not any(p.player_id == player.pk for p in seats):
        raise MatchNotFound("You did not play in this match.")
    return seats


def _offer(match: Match) -> dict[str, Any]:
    """The answers so far, a fresh copy; a person who abandoned the match has left already."""
    stored = (match.result or {}).get(_KEY) or {}
    offer: dict[str, Any] = {
        "wants": list(stored.get("wants", [])),
        "declined": [dict(d) for d in stored.get("declined", [])],
        "match": stored.get("match"),
    }
    if not stored:
        abandoned = match.participants.filter(outcome="abandoned", player__is_bot=False)
        for pid in abandoned.order_by("seat").values_list("player_id", flat=True):
            offer["declined"].append({"player": pid, "why": "left"})
    return offer


def _save(match: Match, offer: dict[str, Any]) -> None:
    match.result = {**(match.result or {}), _KEY: offer}
    match.save(update_fields=["result"])


def _state(match: Match, seats: list[Participant]) -> RematchState:
    offer = _offer(match)
    names = {p.player_id: p.player.display_name for p in seats}
    people = [p.player_id for p in seats if not p.player.is_bot]
    wants = [RematchPlayer(pid, names[pid]) for pid in people if pid in offer["wants"]]
    declined = [
        RematchDecline(d["player"], names[d["player"]], d["why"]) for d in offer["declined"]
    ]
    gone = {d.player_id for d in declined}
    waiting = [
        RematchPlayer(pid, names[pid])
        for pid in people
        if pid not in offer["wants"] and pid not in gone
    ]
    status: Status = "none"
    if offer["match"]:
        status = "started"
    elif declined:
        status = "declined"
    elif wants:
        status = "waiting"
    return RematchState(str(match.pk), match.game, status, wants, waiting, declined, offer["match"])


def _others(people: list[int], player: Player) -> list[int]:
    return [pid for pid in people if pid != player.pk]


def _frame(state: RematchState) -> str:
    return protocol.rematch(
        state.match_id,
        "declined" if state.status == "declined" else "waiting",
        [(p.player_id, p.name) for p in state.wants],
        [(d.player_id, d.name, d.why) for d in state.declined],
    )
