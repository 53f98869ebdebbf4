"""This process's queued lobby sockets, and the matcher that runs while it has any."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from games import cluster, protocol, services
from games.matchmaking.backend import QueueBackend
from games.matchmaking.local_queue import LocalQueue
from games.matchmaking.redis_queue import RedisQueue
from games.matchmaking.rules import (
    BOT_FILL_LEVEL,
    LOST_PLACE_REASONS,
    OPEN_MATCHES_PER_ROUND,
    QUEUED_PER_FILL,
    Entry,
    GroupRules,
    Renewal,
    places_in_open_matches,
    rules_for,
)
from games.models import Player
from games.runtime import messages, metrics
from games.services import bots
from games.services.errors import MatchInProgress, NotQueued

logger = logging.getLogger(__name__)


def _entry_for(player_id: int, game: str, token: str, now: float) -> Entry:
    """A queue entry for the player, read fresh: a ban or rating change since connecting counts."""
    player = Player.objects.filter(pk=player_id).first()
    if player is None:
        raise services.InvalidRequest("This player no longer exists.")
    services.check_can_queue(player, game)
    return Entry(player.pk, game, token, player.rating_mu, now)


class Matchmaker:
    """This process's queued lobby sockets, and the matcher that runs while it has any."""

    def __init__(self) -> None:
        self.local: dict[str, Entry] = {}  # by token: the channel name of the lobby socket
        # Sockets sent word that their entry is gone, until they read it (`lost_place_news`).
        self.lost_place: set[str] = set()
        # Picked once, with the rest of the shared state: in Redis for every process, or
        # in this process's memory (its implementations live here, above games.cluster).
        self._queue: QueueBackend = LocalQueue() if cluster.shared().is_local else RedisQueue()
        self.stopped = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def queue(self) -> QueueBackend:
        return self._queue

    async def join(self, player_id: int, game: str, token: str) -> str:
        """Queue the player for `game` from the lobby socket `token`; the `queued` frame.

        Raises ServiceError subclasses: PlayerBanned, InvalidRequest, AlreadyPlaying,
        MatchInProgress.
        """
        now = time.time()
        entry = await database_sync_to_async(_entry_for)(player_id, game, token, now)
        result = await self.queue().join(
            entry, now, settings.MATCHMAKING_TTL_SECONDS, settings.MATCHMAKING_CLAIM_SECONDS
        )
        if result == "matching":
            raise MatchInProgress("A match is being made for you; it will start in a moment.")
        self.local[token] = entry
        self.lost_place.discard(token)
        self._kick()
        return protocol.queued(game, rules_for(game).window(0.0))

    async def leave(self, player_id: int, token: str) -> str:
        """Take the player out of their queue, on their request; the `unqueued` frame.

        Raises MatchInProgress once they are taken into a group, NotQueued if in no queue.
        """
        result, game = await self.queue().leave(player_id, "", gone=False)
        if result == "matching":
            raise MatchInProgress("Too late to leave: a match is being made for you.")
        self.forget(token)
        if result == "absent":
            raise NotQueued("You are not in a queue.")
        return protocol.unqueued(game)

    async def disconnected(self, token: str) -> None:
        """The lobby socket `token` closed: its player leaves the queue (if it queued them)."""
        self.lost_place.discard(token)
        entry = self.local.pop(token, None)
        if entry is not None:
            await self.queue().leave(entry.player_id, token, gone=True)

    def forget(self, token: str) -> None:
        """The socket heard that its player was matched or refused: nothing left to renew."""
        self.local.pop(token, None)
        self.lost_place.discard(token)

    def lost_place_news(self, token: str) -> bool:
        """Whether the socket should still be told that its entry is gone, now it reads that.

        The word travels over the channel layer, behind anything sent to the socket
        before it. A player whose match was announced before their entry went
        (which `renew` missed because its marker was gone) has heard `matched` by
        then, and `forget` has withdrawn the word; so has queueing again.
        """
        news = token in self.lost_place
        self.lost_place.discard(token)
        return news

    async def drain(self) -> None:
        """This process is going away: stop matching and take its players out of the queue."""
        self.stop()
        for token in list(self.local):
            try:
                await self.disconnected(token)
            except Exception as exc:
                # Redis away: the entry's TTL takes it out of the queue; the drain goes on.
                logger.warning("drain: queue entry %s left to expire: %s", token, exc)

    def stop(self) -> None:
        self.stopped = True
        if self._task is not None:
            self._task.cancel()

    def _kick(self) -> None:
        """Run a round now (a new player may complete a group), starting the matcher if idle."""
        self._wake.set()
        if not self.stopped and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self.local and not self.stopped:
            self._wake.clear()  # before the round: a join during it asks for another
            try:
                await self.round(time.time())
            except Exception:
                logger.exception("matchmaking round failed; retrying")  # Redis down, say
            # A period, not a wait for an event: windows widen with time alone.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=settings.MATCHMAKING_INTERVAL_SECONDS
                )

    async def round(self, now: float) -> None:
        """Renew this process's entries, then form groups in the games they wait for.

        Players left over take free seats in open public matches of their game: those
        `services.quick_join` opens for a player without a lobby socket, so that both
        ways of pressing "Play now" meet; then bots' seats in the queue's matches with
        bots that have not started, so a person who came alone plays a person after
        all. A player of this process still left over after MATCHMAKING_BOT_FILL_SECONDS
        gets a match with bots.
        """
        await self._renew(now)
        for game in sorted({entry.game for entry in self.local.values()}):
            rules = rules_for(game)
            for group in await self.queue().take(game, now, rules):
                await self._seat(group, functools.partial(services.create_queued_match, game))
            await self._fill_open_matches(game, now, rules)
            await self._take_bot_seats(game, now, rules)
            await self._fill_with_bots(game, now, rules)

    async def _fill_with_bots(self, game: str, now: float, rules: GroupRules) -> None:
        """Seat each of this process's players of `game` who waited too long with bots.

        Only the players whose socket this process holds, so no queue read is needed to
        find them; the claim takes those still queued (not grouped meanwhile elsewhere).
        """
        if rules.bot_fill_seconds <= 0:
            return
        lonely = [
            entry
            for entry in self.local.values()
            if entry.game == game and now - entry.queued_at >= rules.bot_fill_seconds
        ]
        if not lonely:
            return
        make = functools.partial(services.create_queued_bot_match, game, level=BOT_FILL_LEVEL)
        for entry in await self.queue().claim(lonely, now):
            await self._seat([entry], make)

    async def _fill_open_matches(self, game: str, now: float, rules: GroupRules) -> None:
        await self._fill_places(
            game, now, rules, services.open_public_matches, services.seat_queued_players
        )

    async def _take_bot_seats(self, game: str, now: float, rules: GroupRules) -> None:
        """Queued people take bots' seats in the queue's matches with bots not started yet."""
        await self._fill_places(game, now, rules, bots.open_bot_matches, bots.take_bot_seats)

    async def _fill_places(
        self,
        game: str,
        now: float,
        rules: GroupRules,
        find: Callable[[str, int], list[services.OpenMatch]],
        seat_in: Callable[[str, list[int]], services.QueuedMatch],
    ) -> None:
        """Place queued players of `game` in the matches `find` lists, seated with `seat_in`."""
        # The database first: usually no match waits for players (the queue's own are
        # full), and then the queue need not be read.
        matches = await database_sync_to_async(find)(game, OPEN_MATCHES_PER_ROUND)
        if not matches:
            return
        waiting = await self.queue().queued(game, QUEUED_PER_FILL)
        for match, entries in places_in_open_matches(matches, waiting, now, rules):
            # Some may have been taken since the read, by another process's matcher.
            claimed = await self.queue().claim(entries, now)
            if claimed:
                await self._seat(claimed, functools.partial(seat_in, match.match_id))

    async def _renew(self, now: float) -> None:
        local = list(self.local.items())
        states = await self.queue().renew(
            [(entry.player_id, token) for token, entry in local],
            now,
            settings.MATCHMAKING_TTL_SECONDS,
            settings.MATCHMAKING_CLAIM_SECONDS,
        )
        for (token, entry), state in zip(local, states, strict=True):
            if state in (Renewal.QUEUED, Renewal.MATCHING) or self.local.get(token) != entry:
                continue  # still queued; or the socket heard of a match, queued again, or closed
            del self.local[token]
            if state in LOST_PLACE_REASONS:
                # Only this socket: the player may be queued from another one.
                self.lost_place.add(token)
                await _announce_lost_place(token, entry.game, LOST_PLACE_REASONS[state])

    async def _seat(
        self, group: list[Entry], make: Callable[[list[int]], services.QueuedMatch]
    ) -> None:
        """Seat a group taken from the queue with `make` (given the player ids, in order).

        Seated: the entries are finished. Otherwise those refused are finished (and
        told why), the others go back to the queue with their wait.
        """
        game, ttl = group[0].game, settings.MATCHMAKING_TTL_SECONDS
        try:
            made = await database_sync_to_async(make)([entry.player_id for entry in group])
        except Exception:
            logger.exception("could not create a %s match for %s", game, group)
            await self.queue().requeue(group, time.time(), ttl)
            return
        if made.match is not None:
            now = time.time()
            for entry in group:
                metrics.matched(game, now - entry.queued_at)
            await self.queue().finish(group, now, ttl)
            return
        refused = [entry for entry in group if entry.player_id in made.refused]
        others = [entry for entry in group if entry.player_id not in made.refused]
        await self.queue().requeue(others, time.time(), ttl)
        await self.queue().finish(refused, time.time(), ttl)
        for entry in refused:
            await _announce_unqueued(entry.player_id, game, made.refused[entry.player_id])


async def _announce_unqueued(player_id: int, game: str, reason: str) -> None:
    """Tell a player's lobby sockets that the server took them out of the queue, and why.

    Not tied to a transaction: it reports a refusal (a ban since queueing), not a write.
    """
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(
            messages.player_group(player_id),
            {"type": "matchmaking.unqueued", "text": protocol.unqueued(game, reason)},
        )


async def _announce_lost_place(channel: str, game: str, reason: str) -> None:
    """Tell one lobby socket that its player's entry in the queue is gone, and why.

    Only that socket (its channel): the player may be queued from another. Through the
    channel layer even from its own process, so that it arrives after anything sent
    to the socket before it, such as `matched`.
    """
    layer = get_channel_layer()
    if layer is not None:
        await layer.send(
            channel, {"type": "matchmaking.lost_place", "text": protocol.unqueued(game, reason)}
        )
