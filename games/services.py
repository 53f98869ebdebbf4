"""Every write to players and matches: accounts, lobby, lifecycle, results, ratings, bans.

Each public function is one transaction. Rows that two processes could change
at once are locked with select_for_update (a no-op on SQLite, where the
IMMEDIATE transaction mode serialises writers instead). The JSON API, the
admin and the match runtime all call these functions, so they cannot diverge.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from games import events, ratings
from games.engine import get_game
from games.engine.base import EngineError
from games.models import Match, MatchStatus, Outcome, Participant, Player, Replay

# --- Errors ------------------------------------------------------------------------


class ServiceError(Exception):
    """A request the rules refuse; `code` is stable for clients, the message is for people."""

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ServiceError):
    """The request names an unknown game, a bad setting or an impossible size."""

    code = "invalid_request"


class MatchNotFound(ServiceError):
    """No match with that id or code that this player may see."""

    code = "match_not_found"


class MatchNotJoinable(ServiceError):
    """The match has started or ended; only waiting matches take players."""

    code = "match_not_joinable"


class MatchFull(ServiceError):
    """Every seat of the match is taken."""

    code = "match_full"


class AlreadySeated(ServiceError):
    """The player already holds a seat in this match."""

    code = "already_seated"


class PlayerBanned(ServiceError):
    """Banned players may not create or join matches."""

    code = "player_banned"


class AlreadyPlaying(ServiceError):
    """The player holds a seat in a match in progress, so may not queue for another.

    `match_id` and `game` name that match, so a client can offer to rejoin it.
    """

    code = "in_match"

    def __init__(self, message: str, match_id: str, game: str) -> None:
        super().__init__(message)
        self.match_id, self.game = match_id, game


class IllegalTransition(ServiceError):
    """The match cannot move from its current status to the requested one."""

    code = "illegal_transition"


class NotReady(ServiceError):
    """Some seated players are not connected and ready, so the match cannot start."""

    code = "not_ready"


class StaleRunner(ServiceError):
    """A runner whose lease was taken over tried to write; its fencing token is too old."""

    code = "stale_runner"


class InvalidResult(ServiceError):
    """A result does not name exactly the match's seats."""

    code = "invalid_result"


# --- Players ---------------------------------------------------------------------

_ADJECTIVES = [
    "Swift",
    "Brave",
    "Clever",
    "Mighty",
    "Silent",
    "Lucky",
    "Rapid",
    "Cosmic",
    "Fuzzy",
    "Golden",
    "Happy",
    "Nimble",
    "Bold",
    "Crimson",
    "Frosty",
    "Jolly",
    "Quiet",
    "Sunny",
    "Wild",
    "Zesty",
]
_ANIMALS = [
    "Otter",
    "Falcon",
    "Panda",
    "Tiger",
    "Badger",
    "Heron",
    "Lynx",
    "Gecko",
    "Walrus",
    "Raven",
    "Fox",
    "Koala",
    "Moose",
    "Puffin",
    "Bison",
    "Cobra",
    "Marten",
    "Ibex",
    "Yak",
    "Newt",
]


def display_name_taken(name: str, exclude: Player | None = None) -> bool:
    """Whether another player already uses `name`, ignoring case."""
    others = Player.objects.filter(display_name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def create_player(user: User, display_name: str, *, is_guest: bool = False) -> Player:
    """Give `user` a player profile with a fresh rating."""
    return Player.objects.create(
        user=user, display_name=display_name, is_guest=is_guest, last_seen=timezone.now()
    )


def ensure_player(user: User) -> Player:
    """The user's player, created on first use (for example for a superuser)."""
    try:
        return user.player
    except Player.DoesNotExist:
        pass
    name = user.get_username()[:32]
    if display_name_taken(name):
        name = _generated_name()
    with transaction.atomic():
        player, _ = Player.objects.get_or_create(
            user=user, defaults={"display_name": name, "last_seen": timezone.now()}
        )
    return player


def create_guest() -> Player:
    """Create a guest user with a generated display name and no usable password."""
    User = get_user_model()
    with transaction.atomic():
        name = _generated_name()
        user = User.objects.create_user(username=f"guest-{secrets.token_hex(6)}")
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return create_player(user, name, is_guest=True)


def _generated_name() -> str:
    for _ in range(20):
        name = f"{secrets.choice(_ADJECTIVES)}{secrets.choice(_ANIMALS)}{secrets.randbelow(1000)}"
        if not display_name_taken(name):
            return name
    return f"Guest{secrets.token_hex(4)}"


def claim_guest(player: Player) -> None:
    """Turn a guest into a regular account once it has a username and password.

    The player row (rating, history) is kept; only the guest flag changes.
    """
    Player.objects.filter(pk=player.pk).update(is_guest=False)
    player.is_guest = False


def touch_player(user: User | AnonymousUser) -> None:
    """Record that the user was just seen (on log-in)."""
    if user.is_authenticated:
        Player.objects.filter(user=user).update(last_seen=timezone.now())


def ban_player(player: Player, reason: str) -> None:
    """Ban a player: they can no longer create or join matches."""
    reason = reason.strip() or "Banned by an operator."
    Player.objects.filter(pk=player.pk).update(
        is_banned=True, ban_reason=reason[:200], banned_at=timezone.now()
    )


def unban_player(player: Player) -> None:
    Player.objects.filter(pk=player.pk).update(is_banned=False, ban_reason="", banned_at=None)


def check_can_play(player: Player) -> None:
    """Raise PlayerBanned if the player may not take part in matches."""
    if player.is_banned:
        raise PlayerBanned(f"You are banned: {player.ban_reason}")


# --- Lobby -----------------------------------------------------------------------

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def create_match(
    creator: Player,
    game: str,
    *,
    is_private: bool = False,
    max_players: int | None = None,
    settings: dict[str, Any] | None = None,
) -> Match:
    """Create a waiting match and seat its creator in seat 0."""
    check_can_play(creator)
    rules = _rules(game)
    seats = rules.max_players if max_players is None else max_players
    if not rules.min_players <= seats <= rules.max_players:
        raise InvalidRequest(
            f"{rules.title} takes {rules.min_players} to {rules.max_players} players."
        )
    try:
        full_settings = rules.settings(settings or {})
    except EngineError as exc:
        raise InvalidRequest(exc.reason) from exc
    for _ in range(10):
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6)) if is_private else None
        try:
            with transaction.atomic():
                match = Match.objects.create(
                    game=game,
                    created_by=creator,
                    max_players=seats,
                    is_private=is_private,
                    join_code=code,
                    settings=full_settings,
                    seed=secrets.randbits(62),
                )
                Participant.objects.create(match=match, player=creator, seat=0)
                events.announce_lobby_change_on_commit()
                return match
        except IntegrityError:
            if not is_private:
                raise
            # A join code collided with an existing one: draw another.
    raise ServiceError("Could not allocate a join code; try again.")


def _rules(game: str) -> Any:
    try:
        return get_game(game)
    except EngineError as exc:
        raise InvalidRequest(exc.reason) from exc


def join_match(player: Player, match_id: Any) -> Participant:
    """Seat `player` in the lowest free seat of a waiting match."""
    check_can_play(player)
    with transaction.atomic():
        match = _locked_match(match_id)
        return _seat(player, match)


def play_now(player: Player, game: str) -> Match:
    """Put the player into a public match of `game` as fast as possible.

    Their own waiting match if they have one, else the oldest open match with a
    free seat, else a new one. This is the JSON API's "Play now"; the lobby
    socket's rating-based queue (`games.matchmaking`) ends in `create_queued_match`.
    """
    check_can_play(player)
    _rules(game)
    mine = Match.objects.open_lobby(game).filter(participants__player=player).first()
    if mine is not None:
        return mine
    for candidate in Match.objects.open_lobby(game).exclude(participants__player=player)[:20]:
        try:
            join_match(player, candidate.pk)
            return candidate
        except (MatchFull, MatchNotJoinable):
            continue  # taken by someone else meanwhile: try the next one
    return create_match(player, game)


_PLAYING_ELSEWHERE = "You are playing a match already: finish it or rejoin it first."


def check_can_queue(player: Player, game: str) -> None:
    """Raise PlayerBanned, InvalidRequest or AlreadyPlaying if the player may not queue now."""
    check_can_play(player)
    _rules(game)
    playing = _matches_in_progress([player.pk])
    if player.pk in playing:
        match_id, match_game = playing[player.pk]
        raise AlreadyPlaying(_PLAYING_ELSEWHERE, match_id, match_game)


def _matches_in_progress(player_ids: Collection[int]) -> dict[int, tuple[str, str]]:
    """(match id, game) of the active match each of these players is still seated in.

    One query. Seats in waiting matches do not count: queueing gives them up.
    """
    seats = Participant.objects.filter(
        player_id__in=player_ids, left_at__isnull=True, match__status=MatchStatus.ACTIVE
    ).values_list("player_id", "match_id", "match__game")
    return {player_id: (str(match_id), game) for player_id, match_id, game in seats}


@dataclass(frozen=True)
class QueuedMatch:
    """What `create_queued_match` did: the new match, or who could not be seated and why."""

    match: Match | None
    refused: dict[int, str]


def create_queued_match(game: str, player_ids: Sequence[int]) -> QueuedMatch:
    """Create a public match of `game` for a group the matchmaking queue chose, all seated.

    One transaction with the players locked. A player plays one match at a time,
    so seats the players hold in matches that have not started are given up
    first. Seats follow the order of `player_ids`; the match has exactly that
    many seats. If any player may not play now (banned, deactivated or deleted
    since they queued, or seated in a match in progress), nothing is written
    and `refused` says who and why, so the caller can put the others back in
    the queue. Every player hears the match's id after commit, on their lobby
    sockets.
    """
    rules = _rules(game)
    ids = list(player_ids)
    if len(set(ids)) != len(ids) or not rules.min_players <= len(ids) <= rules.max_players:
        raise InvalidRequest(
            f"A group for {rules.title} is {rules.min_players} to "
            f"{rules.max_players} different players, not {ids}."
        )
    with transaction.atomic():
        # Locked in id order, so two groups sharing a player cannot deadlock.
        locked = Player.objects.select_for_update(of=("self",)).select_related("user")
        players = {p.pk: p for p in locked.filter(pk__in=ids).order_by("pk")}
        # Their waiting matches are locked before the check below, so one that starts
        # meanwhile is seen there as in progress instead of kept alongside the new one.
        _lock_waiting_matches(ids)
        playing = _matches_in_progress(ids)
        refused = {
            pid: reason for pid in ids if (reason := _why_unable(players.get(pid), pid in playing))
        }
        if refused:
            return QueuedMatch(None, refused)
        for pid in ids:
            _give_up_waiting_seats(players[pid])
        match = Match.objects.create(
            game=game,
            created_by=players[ids[0]],
            max_players=len(ids),
            settings=rules.settings({}),
            seed=secrets.randbits(62),
        )
        Participant.objects.bulk_create(
            Participant(match=match, player=players[pid], seat=seat) for seat, pid in enumerate(ids)
        )
        events.announce_lobby_change_on_commit()
        events.announce_matched_on_commit(match.pk, game, ids)
        return QueuedMatch(match, {})


def _why_unable(player: Player | None, playing: bool) -> str:
    """Why this player cannot be seated now, or "" if they can."""
    if player is None:
        return "This player no longer exists."
    if player.is_banned:
        return f"You are banned: {player.ban_reason}"
    if not player.user.is_active:
        return "This account is deactivated."
    if playing:
        return _PLAYING_ELSEWHERE
    return ""


def _lock_waiting_matches(player_ids: Collection[int]) -> None:
    """Lock the waiting matches these players sit in, in id order (no deadlock between two).

    A match that starts while this waits for its lock is no longer waiting when it
    gets it: PostgreSQL checks the condition again on the row it locks.
    """
    seats = Participant.objects.filter(player_id__in=player_ids).values("match_id")
    waiting = Match.objects.filter(status=MatchStatus.WAITING, pk__in=seats)
    list(waiting.select_for_update().order_by("pk").values_list("pk", flat=True))


def _give_up_waiting_seats(player: Player) -> None:
    waiting = Participant.objects.filter(player=player, match__status=MatchStatus.WAITING)
    for match_id in list(waiting.values_list("match_id", flat=True)):
        match = _locked_match(match_id)
        leaving = match.participants.filter(player=player).first()
        if match.status == MatchStatus.WAITING and leaving is not None:
            _give_up_seat(match, leaving)


def touch_player_if_stale(player: Player, seconds: int = 60) -> None:
    """Record activity at most once a minute, so polling does not write every time."""
    now = timezone.now()
    if player.last_seen is None or (now - player.last_seen).total_seconds() > seconds:
        Player.objects.filter(pk=player.pk).update(last_seen=now)
        player.last_seen = now


def join_private_match(player: Player, code: str) -> Participant:
    """Seat `player` in the private match with this join code."""
    check_can_play(player)
    with transaction.atomic():
        match = Match.objects.select_for_update().filter(join_code=code.strip().upper()).first()
        if match is None:
            raise MatchNotFound("No match has that join code. Check the code and try again.")
        return _seat(player, match)


def _seat(player: Player, match: Match) -> Participant:
    if match.status != MatchStatus.WAITING:
        raise MatchNotJoinable("This match has already started or ended.")
    taken = set(match.participants.values_list("seat", flat=True))
    if match.participants.filter(player=player).exists():
        raise AlreadySeated("You already have a seat in this match.")
    free = [seat for seat in range(match.max_players) if seat not in taken]
    if not free:
        raise MatchFull("This match is full.")
    events.announce_lobby_change_on_commit()
    return Participant.objects.create(match=match, player=player, seat=free[0])


def leave_waiting_match(player: Player, match_id: Any) -> None:
    """Give up a seat before the match starts; an empty waiting match is aborted."""
    with transaction.atomic():
        match = _locked_match(match_id)
        if match.status != MatchStatus.WAITING:
            raise MatchNotJoinable("Only a match that has not started can be left this way.")
        leaving = match.participants.filter(player=player).first()
        if leaving is None:
            raise MatchNotFound("You do not have a seat in this match.")
        _give_up_seat(match, leaving)


def _give_up_seat(match: Match, leaving: Participant) -> None:
    """Remove a seat from a waiting match locked by the caller; abort the match if it empties."""
    leaving.delete()
    events.announce_lobby_change_on_commit()
    # Keep seats numbered 0..n-1: the engine numbers its players that way.
    # One row at a time, lowest first, so (match, seat) stays unique throughout.
    for later in match.participants.filter(seat__gt=leaving.seat).order_by("seat"):
        later.seat -= 1
        later.save(update_fields=["seat"])
    if not match.participants.exists():
        _change_status(match, MatchStatus.ABORTED)
        match.result = {"summary": "Aborted: every player left before the start."}
        match.save(update_fields=["result"])


def _locked_match(match_id: Any) -> Match:
    try:
        return Match.objects.select_for_update().get(pk=match_id)
    except (Match.DoesNotExist, ValueError) as exc:
        raise MatchNotFound("No such match.") from exc


# --- Lifecycle ---------------------------------------------------------------------

LEGAL_TRANSITIONS: dict[str, frozenset[str]] = {
    MatchStatus.WAITING: frozenset({MatchStatus.ACTIVE, MatchStatus.ABORTED}),
    MatchStatus.ACTIVE: frozenset({MatchStatus.FINISHED, MatchStatus.ABORTED}),
    MatchStatus.FINISHED: frozenset(),
    MatchStatus.ABORTED: frozenset(),
}


def _change_status(match: Match, new_status: str) -> None:
    """The one place a match's status changes; `match` must be locked by the caller."""
    if new_status not in LEGAL_TRANSITIONS[match.status]:
        raise IllegalTransition(f"A {match.status} match cannot become {new_status}.")
    now = timezone.now()
    match.status = new_status
    fields = ["status"]
    if new_status == MatchStatus.ACTIVE:
        match.started_at = now
        fields.append("started_at")
    elif new_status in (MatchStatus.FINISHED, MatchStatus.ABORTED):
        match.finished_at = now
        fields.append("finished_at")
    match.save(update_fields=fields)
    if new_status in (MatchStatus.ACTIVE, MatchStatus.ABORTED):
        events.announce_lobby_change_on_commit()  # no longer open


def start_match(
    match_id: Any, *, present: Collection[int] | None = None, fence: int | None = None
) -> Match:
    """Move a waiting match with enough players to active.

    With `present` (player ids connected and ready), every seated player must
    be among them, or NotReady is raised and nothing changes.
    """
    with transaction.atomic():
        match = _locked_match(match_id)
        _check_fence(match, fence)
        rules = _rules(match.game)
        seated = set(match.participants.values_list("player_id", flat=True))
        if match.status == MatchStatus.WAITING:
            if len(seated) < rules.min_players:
                raise IllegalTransition(
                    f"{rules.title} needs at least {rules.min_players} players to start."
                )
            if present is not None and not seated <= set(present):
                raise NotReady("Waiting for every seated player to connect and be ready.")
        _change_status(match, MatchStatus.ACTIVE)
        return match


def _check_fence(match: Match, fence: int | None) -> None:
    """Refuse writes from a runner older than the last one that wrote; remember newer ones."""
    if fence is None:
        return
    if fence < match.runner_fence:
        raise StaleRunner(f"Runner token {fence} is older than {match.runner_fence}.")
    if fence > match.runner_fence:
        match.runner_fence = fence
        match.save(update_fields=["runner_fence"])


def take_runner_fence(match_id: Any, token: int, *, since: int | None = None) -> None:
    """Record that a runner with fencing token `token` runs the match from now on.

    The database's fence is the authority on tokens, whatever Redis lost: a token
    not above the recorded one is refused, and so is a runner taking its lease
    again (`since`: its previous token) after another runner was recorded.
    Raises StaleRunner when refused.
    """
    with transaction.atomic():
        match = _locked_match(match_id)
        recorded = match.runner_fence
        if token <= recorded or (since is not None and recorded > since):
            raise StaleRunner(f"Runner token {token} is not above {recorded}.")
        match.runner_fence = token
        match.save(update_fields=["runner_fence"])


def abort_match(match_id: Any, reason: str, *, fence: int | None = None) -> Match:
    """Abort a waiting or active match; no ratings change."""
    with transaction.atomic():
        match = _locked_match(match_id)
        _check_fence(match, fence)
        _change_status(match, MatchStatus.ABORTED)
        match.result = {"summary": f"Aborted: {reason}"}
        match.save(update_fields=["result"])
        match.participants.filter(left_at__isnull=True).update(left_at=match.finished_at)
        events.announce_abort_on_commit(match.pk, match.result["summary"])
        return match


@dataclass(frozen=True)
class SeatResult:
    """How one seat ended: outcome, score and placement (1 is best, ties share)."""

    seat: int
    outcome: str
    score: int
    rank: int


@dataclass(frozen=True)
class ReplayData:
    """What a runner recorded: the input log as [tick, seat, input-or-None] and the end."""

    seats: int
    final_tick: int
    log: list[list[Any]]
    final_state: dict[str, Any]


def finish_match(
    match_id: Any,
    results: Sequence[SeatResult],
    summary: str,
    *,
    replay: ReplayData | None = None,
    fence: int | None = None,
) -> Match:
    """Record the end of an active match in one transaction.

    Writes the status, every participant's score, outcome and rating change,
    the players' records and ratings, the match's result summary and its
    replay; if any step fails, none of it is stored.
    """
    packed_log = Replay.pack(replay.log) if replay else b""  # compress outside the lock
    with transaction.atomic():
        match = _locked_match(match_id)
        _check_fence(match, fence)
        participants = list(match.participants.order_by("seat"))
        _check_results(participants, results)
        _change_status(match, MatchStatus.FINISHED)
        by_seat = {r.seat: r for r in results}
        # Lock players in id order so two matches finishing together cannot deadlock.
        player_ids = sorted(p.player_id for p in participants)
        players = {p.pk: p for p in Player.objects.select_for_update().filter(pk__in=player_ids)}
        new_ratings = _new_ratings(match, participants, players, by_seat)
        for participant in participants:
            player = players[participant.player_id]
            result = by_seat[participant.seat]
            _record_participant(participant, result, match, player, new_ratings.get(player.pk))
            _record_player(player, result, new_ratings.get(player.pk))
        match.result = {
            "summary": summary,
            "rated": match_is_rated(match, len(participants)),
            "seats": [
                {"seat": r.seat, "outcome": r.outcome, "score": r.score, "rank": r.rank}
                for r in sorted(results, key=lambda r: r.seat)
            ],
        }
        match.save(update_fields=["result"])
        if replay is not None:
            Replay.objects.create(
                match=match,
                game=match.game,
                seed=match.seed,
                settings=match.settings,
                seats=replay.seats,
                final_tick=replay.final_tick,
                log=packed_log,
                final_state=replay.final_state,
            )
        return match


def match_is_rated(match: Match, seated: int) -> bool:
    """Public matches of two or more players change ratings; private ones are friendly."""
    return not match.is_private and seated >= 2


def _check_results(participants: list[Participant], results: Sequence[SeatResult]) -> None:
    seats = sorted(p.seat for p in participants)
    if sorted(r.seat for r in results) != seats:
        raise InvalidResult(f"A result must name exactly the seats {seats}.")
    for r in results:
        if r.outcome not in Outcome.values:
            raise InvalidResult(f"Unknown outcome {r.outcome!r} for seat {r.seat}.")


def _new_ratings(
    match: Match,
    participants: list[Participant],
    players: dict[int, Player],
    by_seat: dict[int, SeatResult],
) -> dict[int, ratings.Rating]:
    """New rating per player id, or {} when the match is unrated."""
    if not match_is_rated(match, len(participants)):
        return {}
    before = [
        ratings.Rating(players[p.player_id].rating_mu, players[p.player_id].rating_sigma)
        for p in participants
    ]
    after = ratings.rate(before, [by_seat[p.seat].rank for p in participants])
    return {p.player_id: rating for p, rating in zip(participants, after, strict=True)}


def _record_participant(
    participant: Participant,
    result: SeatResult,
    match: Match,
    player: Player,
    new: ratings.Rating | None,
) -> None:
    participant.score = result.score
    participant.outcome = result.outcome
    participant.rank = result.rank
    participant.left_at = participant.left_at or match.finished_at
    fields = ["score", "outcome", "rank", "left_at"]
    if new is not None:
        participant.rating_before = player.rating_ordinal
        participant.rating_after = new.ordinal
        fields += ["rating_before", "rating_after"]
    participant.save(update_fields=fields)


_RECORD_FIELD = {
    Outcome.WIN: "wins",
    Outcome.LOSS: "losses",
    Outcome.ABANDONED: "losses",
    Outcome.DRAW: "draws",
}


def _record_player(player: Player, result: SeatResult, new: ratings.Rating | None) -> None:
    counter = _RECORD_FIELD[Outcome(result.outcome)]
    updates: dict[str, Any] = {"matches_played": F("matches_played") + 1, counter: F(counter) + 1}
    if new is not None:
        updates.update(rating_mu=new.mu, rating_sigma=new.sigma, rating_ordinal=new.ordinal)
    Player.objects.filter(pk=player.pk).update(**updates)
