"""The matchmaking queue behind the lobby's "Play now": one queue per game, shared by every process.

A player queues from their lobby socket. Players are grouped by rating
(openskill mu): the oldest player waiting anchors a group of those whose
rating lies within a window around theirs, a window that widens the longer
the anchor has waited (`GroupRules.window`). A group is as large as the
game's seats; a game for fewer players than its seats (arena, 2-8) starts
with everyone in the window once the anchor has waited MATCHMAKING_FILL_SECONDS.

Each entry is in one of three states:

    queued ──take──▶ taken ──finish: match created, or player refused──▶ (gone)
      ▲                │ └──its socket closed──▶ taken, socket gone ──▶ (gone)
      └──requeue───────┘  (a player of the group may not play now; or the
                           matching process died: after MATCHMAKING_CLAIM_SECONDS)

`finish` leaves a marker of the entry's socket behind (for MATCHMAKING_TTL_SECONDS),
so that the socket's process, renewing, can tell an entry that was finished (the
socket hears `matched`, or why it was refused, over the channel layer) from one
that lapsed (its process stalled and another process's "take" dropped it as
expired) or was replaced (the player queued from another socket): only then is
the socket told that it is out of the queue.

With REDIS_URL the queue lives in Redis and every step is one Lua script, so
a step is atomic across processes: "take" picks a group and removes it from
the queue in the same script, and two processes matching at once can never
take one player twice. Without Redis there is one process and `MemoryQueue`
does the same in its memory; no step awaits in the middle, so each is atomic
on the event loop.

Every process with a queued socket runs the matcher for that socket's game
(`MatchmakingHub`): it renews its own entries (so the entries of a process
that died expire) and takes groups. The process that took a group creates
the match (`services.create_queued_match`), which tells every player of it
after commit, on their lobby sockets, whichever process holds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol, cast

from channels.db import database_sync_to_async
from django.conf import settings

from games import events, protocol, services
from games.cluster import redis as cluster_redis
from games.engine import GAMES, get_game
from games.models import Player

logger = logging.getLogger(__name__)

# Bounds on one "take": how many of the oldest players anchor a search, and how many
# groups one call returns. They keep a script short even with a long queue.
ANCHORS_PER_TAKE = 500
GROUPS_PER_TAKE = 50


class MatchInProgress(services.ServiceError):
    """The player was already taken into a group; its match is being created."""

    code = "matching"


class NotQueued(services.ServiceError):
    """The player is in no queue."""

    code = "not_queued"


class Renewal(IntEnum):
    """What `renew` found of one socket's entry."""

    LAPSED = 0  # gone, with no match: expired (its process stalled) or removed
    QUEUED = 1  # still queued, now renewed (or put back: its matcher died)
    MATCHING = 2  # taken into a group; its match is being created
    FINISHED = 3  # matched or refused: the socket hears which over the channel layer
    REPLACED = 4  # the player queued again from another socket


# What a socket whose entry is gone without a word to it is told, by why it is gone.
LOST_PLACE_REASONS = {
    Renewal.LAPSED: "Your place in the queue lapsed; press Play now again.",
    Renewal.REPLACED: "You queued from another window.",
}


@dataclass(frozen=True)
class Entry:
    """One queued player: from which lobby socket (`token`), with which rating, since when."""

    player_id: int
    game: str
    token: str
    rating: float
    queued_at: float  # wall-clock seconds: processes on different hosts compare them


@dataclass(frozen=True)
class GroupRules:
    """How groups of one game are formed."""

    min_size: int
    max_size: int
    window_base: float
    window_growth: float  # per second waited
    window_max: float
    fill_seconds: float

    def window(self, waited: float) -> float:
        """Largest rating difference from a player who has waited `waited` seconds."""
        return min(self.window_base + self.window_growth * max(waited, 0.0), self.window_max)


def rules_for(game: str) -> GroupRules:
    rules = get_game(game)
    return GroupRules(
        min_size=rules.min_players,
        max_size=rules.max_players,
        window_base=settings.MATCHMAKING_WINDOW_BASE,
        window_growth=settings.MATCHMAKING_WINDOW_GROWTH,
        window_max=settings.MATCHMAKING_WINDOW_MAX,
        fill_seconds=settings.MATCHMAKING_FILL_SECONDS,
    )


class QueueBackend(Protocol):
    """The queue's steps; each is atomic. `now` is passed in, so tests control time."""

    async def join(self, entry: Entry, now: float, ttl: float, claim: float) -> str:
        """Queue (or move) the player: "queued", or "matching" if they are being matched."""

    async def leave(self, player_id: int, token: str, gone: bool) -> tuple[str, str]:
        """(result, game): "left"; "matching" (too late to leave); "absent".

        With `token`, only that socket's entry; with `gone`, that socket closed,
        so the player must not be put back in the queue.
        """

    async def renew(
        self, entries: Sequence[tuple[int, str]], now: float, ttl: float, claim: float
    ) -> list[Renewal]:
        """Keep these (player, token) entries alive; say what became of each.

        A FINISHED marker is reported once, then forgotten.
        """

    async def take(self, game: str, now: float, rules: GroupRules) -> list[list[Entry]]:
        """Drop expired entries, then take groups out of the queue (each player once)."""

    async def requeue(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        """Put taken players back with their original wait (unless their socket closed)."""

    async def finish(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        """Forget taken players: their match exists, or they may not play.

        Each socket's marker lasts `ttl` (renew reports it as FINISHED); expired
        markers of sockets that never renewed again are dropped here.
        """

    async def queued(self, game: str) -> list[Entry]:
        """The queue of a game, oldest first (for tests and operators)."""


# --- Redis ----------------------------------------------------------------------------

# Shared by every script. KEYS[1] is the hash of entries (player -> entry), KEYS[2] the
# markers finish leaves (token by expiry time), then three keys per game: waiting (player
# by time queued), rating (player by rating) and expiry (player by expiry time). ARGV[1]
# is the number of games n and ARGV[2..n+1] their names, in the order of KEYS; the
# script's own arguments follow, read with arg(i). An entry is
# "state|game|token|queued_at|rating|stamp", state q (queued), t (taken into a group) or
# x (taken, and its socket closed since). Numbers are written only as the strings the
# caller passed, so they compare equal when passed back.
_LIB = """
local ENTRIES, FINISHED = KEYS[1], KEYS[2]
local n = tonumber(ARGV[1])
local function arg(i) return ARGV[n + 1 + i] end
local function game_keys(game)
  for i = 1, n do
    if ARGV[1 + i] == game then
      local base = 3 + 3 * (i - 1)
      return KEYS[base], KEYS[base + 1], KEYS[base + 2]
    end
  end
end
local function load(player)
  local raw = redis.call('HGET', ENTRIES, player)
  if not raw then return nil end
  local e = {}
  for part in (raw .. '|'):gmatch('(.-)|') do e[#e + 1] = part end
  return e
end
local function store(player, e) redis.call('HSET', ENTRIES, player, table.concat(e, '|')) end
local function unlist(game, player)
  local waiting, rating, expiry = game_keys(game)
  if waiting then
    redis.call('ZREM', waiting, player)
    redis.call('ZREM', rating, player)
    redis.call('ZREM', expiry, player)
  end
end
local function list(player, e, expires)
  local waiting, rating, expiry = game_keys(e[2])
  redis.call('ZADD', waiting, e[4], player)
  redis.call('ZADD', rating, e[5], player)
  redis.call('ZADD', expiry, expires, player)
end
"""

# arg: player, game, token, queued_at, rating, now, expires, claim seconds
_JOIN = """
local player, now = arg(1), tonumber(arg(6))
local old = load(player)
if old and old[1] ~= 'q' and tonumber(old[6]) > now - tonumber(arg(8)) then
  return 'matching'
end
if old then unlist(old[2], player) end
-- A marker of this socket's last match is no news to it now.
redis.call('ZREM', FINISHED, arg(3))
local e = {'q', arg(2), arg(3), arg(4), arg(5), arg(6)}
store(player, e)
list(player, e, arg(7))
return 'queued'
"""

# arg: player, token ('' for any socket of the player), gone ('1': that socket closed)
_LEAVE = """
local player, token = arg(1), arg(2)
local e = load(player)
if not e or (token ~= '' and e[3] ~= token) then return {'absent', ''} end
if e[1] == 'q' then
  unlist(e[2], player)
  redis.call('HDEL', ENTRIES, player)
  return {'left', e[2]}
end
if e[1] == 't' and arg(3) == '1' then
  e[1] = 'x'
  store(player, e)
end
return {'matching', e[2]}
"""

# arg: now, expires, claim seconds, then (player, token) pairs. Returns a Renewal per pair.
_RENEW = """
local now, claim = tonumber(arg(1)), tonumber(arg(3))
local function renew(player, token)
  local e = load(player)
  if e and e[3] == token then
    if e[1] == 'q' then
      local _, _, expiry = game_keys(e[2])
      redis.call('ZADD', expiry, 'XX', arg(2), player)
      return 1
    elseif e[1] == 't' and tonumber(e[6]) <= now - claim then
      -- The process that took it died before creating the match: queue it again.
      e[1] = 'q'
      e[6] = arg(1)
      store(player, e)
      list(player, e, arg(2))
      return 1
    end
    return 2
  end
  -- The marker first: the player may have queued from another socket since their match.
  -- A marker past its expiry still counts until a finish drops it.
  if redis.call('ZREM', FINISHED, token) == 1 then return 3 end
  if e then return 4 end
  return 0
end
local out = {}
local i = 4
while arg(i) do
  out[#out + 1] = renew(arg(i), arg(i + 1))
  i = i + 2
end
return out
"""

# Called with one game. arg: now, window base, growth, max, min size, max size,
# fill seconds, groups per call, anchors per call
_TAKE = """
local game = ARGV[2]
local WAITING, RATING, EXPIRY = game_keys(game)
local now = tonumber(arg(1))
local base, growth, cap = tonumber(arg(2)), tonumber(arg(3)), tonumber(arg(4))
local min_size, max_size, fill = tonumber(arg(5)), tonumber(arg(6)), tonumber(arg(7))
local max_groups, anchors = tonumber(arg(8)), tonumber(arg(9))

for _, player in ipairs(redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', '(' .. arg(1))) do
  unlist(game, player)
  local e = load(player)
  if e and e[1] == 'q' and e[2] == game then redis.call('HDEL', ENTRIES, player) end
end

local function queued_here(player)
  local e = load(player)
  if e and e[1] == 'q' and e[2] == game then return true end
  unlist(game, player)
  return false
end

local groups = {}
local oldest_first = redis.call('ZRANGE', WAITING, 0, anchors - 1, 'WITHSCORES')
for i = 1, #oldest_first, 2 do
  if #groups >= max_groups then break end
  local anchor = oldest_first[i]
  local score = redis.call('ZSCORE', RATING, anchor)
  if score and queued_here(anchor) then
    local rating = tonumber(score)
    local waited = math.max(now - tonumber(oldest_first[i + 1]), 0)
    local window = math.min(base + growth * waited, cap)
    local near = redis.call('ZRANGEBYSCORE', RATING, rating - window, rating + window, 'WITHSCORES')
    local others = {}
    for j = 1, #near, 2 do
      local player = near[j]
      if player ~= anchor and queued_here(player) then
        local since = tonumber(redis.call('ZSCORE', WAITING, player))
        others[#others + 1] = {player, math.abs(tonumber(near[j + 1]) - rating), since}
      end
    end
    table.sort(others, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      if a[3] ~= b[3] then return a[3] < b[3] end
      return a[1] < b[1]
    end)
    local size = math.min(#others + 1, max_size)
    if size == max_size or (size >= min_size and waited >= fill) then
      local members = {anchor}
      for j = 1, size - 1 do members[#members + 1] = others[j][1] end
      local group = {}
      for _, player in ipairs(members) do
        local e = load(player)
        e[1] = 't'
        e[6] = arg(1)
        store(player, e)
        unlist(game, player)
        group[#group + 1] = player .. '|' .. table.concat(e, '|')
      end
      groups[#groups + 1] = group
    end
  end
end
return groups
"""

# arg: now, expires, then (player, token, queued_at) triples
_REQUEUE = """
local i = 3
while arg(i) do
  local player = arg(i)
  local e = load(player)
  if e and e[3] == arg(i + 1) and e[4] == arg(i + 2) then
    if e[1] == 't' then
      e[1] = 'q'
      e[6] = arg(1)
      store(player, e)
      list(player, e, arg(2))
    elseif e[1] == 'x' then
      redis.call('HDEL', ENTRIES, player)
    end
  end
  i = i + 3
end
return 0
"""

# arg: now, marker expiry, then (player, token, queued_at) triples. An entry put back
# after its claim timed out leaves too: its match exists after all. Each leaves a marker
# of its socket until its process renews it; markers nobody renewed expire here.
_FINISH = """
redis.call('ZREMRANGEBYSCORE', FINISHED, '-inf', '(' .. arg(1))
local i = 3
while arg(i) do
  local player = arg(i)
  local e = load(player)
  if e and e[3] == arg(i + 1) and e[4] == arg(i + 2) then
    unlist(e[2], player)
    redis.call('HDEL', ENTRIES, player)
    redis.call('ZADD', FINISHED, arg(2), e[3])
  end
  i = i + 3
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(value: float) -> str:
    return repr(float(value))  # repr round-trips: the same string comes back as the same float


def _identity(entries: Sequence[Entry]) -> list[str]:
    args: list[str] = []
    for e in entries:
        args += [str(e.player_id), e.token, _number(e.queued_at)]
    return args


class RedisQueue:
    """The queue in Redis, shared by every process; every step is one Lua script."""

    async def _run(self, body: str, games: Sequence[str], args: Sequence[Any]) -> Any:
        client = cluster_redis.async_client()
        keys = [cluster_redis.key("mm", "entries"), cluster_redis.key("mm", "finished")]
        for game in games:
            keys += [
                cluster_redis.key("mm", game, part) for part in ("waiting", "rating", "expiry")
            ]
        script = client.register_script(_LIB + body)
        return await script(keys=keys, args=[len(games), *games, *args])

    async def join(self, entry: Entry, now: float, ttl: float, claim: float) -> str:
        if "|" in entry.token or "|" in entry.game:
            raise ValueError("tokens and game keys cannot contain '|'")
        result = await self._run(
            _JOIN,
            list(GAMES),
            [
                entry.player_id,
                entry.game,
                entry.token,
                _number(entry.queued_at),
                _number(entry.rating),
                _number(now),
                _number(now + ttl),
                _number(claim),
            ],
        )
        return _text(result)

    async def leave(self, player_id: int, token: str, gone: bool) -> tuple[str, str]:
        result, game = await self._run(
            _LEAVE, list(GAMES), [player_id, token, "1" if gone else "0"]
        )
        return _text(result), _text(game)

    async def renew(
        self, entries: Sequence[tuple[int, str]], now: float, ttl: float, claim: float
    ) -> list[Renewal]:
        if not entries:
            return []
        pairs = [str(part) for pair in entries for part in pair]
        states = await self._run(
            _RENEW, list(GAMES), [_number(now), _number(now + ttl), _number(claim), *pairs]
        )
        return [Renewal(int(state)) for state in states]

    async def take(self, game: str, now: float, rules: GroupRules) -> list[list[Entry]]:
        groups = await self._run(
            _TAKE,
            [game],
            [
                _number(now),
                _number(rules.window_base),
                _number(rules.window_growth),
                _number(rules.window_max),
                rules.min_size,
                rules.max_size,
                _number(rules.fill_seconds),
                GROUPS_PER_TAKE,
                ANCHORS_PER_TAKE,
            ],
        )
        return [[_parse(_text(member)) for member in group] for group in groups]

    async def requeue(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        if entries:
            await self._run(
                _REQUEUE, list(GAMES), [_number(now), _number(now + ttl), *_identity(entries)]
            )

    async def finish(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        if entries:
            await self._run(
                _FINISH, list(GAMES), [_number(now), _number(now + ttl), *_identity(entries)]
            )

    async def queued(self, game: str) -> list[Entry]:
        client = cluster_redis.async_client()
        players = cast(
            list[bytes], await client.zrange(cluster_redis.key("mm", game, "waiting"), 0, -1)
        )
        if not players:
            return []
        raw = await client.hmget(cluster_redis.key("mm", "entries"), players)
        return [_parse(f"{_text(p)}|{_text(r)}") for p, r in zip(players, raw, strict=True) if r]


def _parse(member: str) -> Entry:
    """An entry as a script returns it: "player|state|game|token|queued_at|rating|stamp"."""
    player, _state, game, token, queued_at, rating, _stamp = member.split("|")
    return Entry(int(player), game, token, float(rating), float(queued_at))


# --- One process -----------------------------------------------------------------------


@dataclass
class _Slot:
    entry: Entry
    state: str  # "q", "t" or "x", as in Redis
    stamp: float
    expires: float


class MemoryQueue:
    """The same queue in this process's memory, for single-process mode (no Redis).

    No method awaits before it is done, so each step is atomic on the event loop.
    """

    def __init__(self) -> None:
        self.slots: dict[int, _Slot] = {}
        self.finished: dict[str, float] = {}  # the markers finish leaves: token -> expiry

    async def join(self, entry: Entry, now: float, ttl: float, claim: float) -> str:
        old = self.slots.get(entry.player_id)
        if old is not None and old.state != "q" and old.stamp > now - claim:
            return "matching"
        self.finished.pop(entry.token, None)
        self.slots[entry.player_id] = _Slot(entry, "q", now, now + ttl)
        return "queued"

    async def leave(self, player_id: int, token: str, gone: bool) -> tuple[str, str]:
        slot = self.slots.get(player_id)
        if slot is None or (token and slot.entry.token != token):
            return "absent", ""
        if slot.state == "q":
            del self.slots[player_id]
            return "left", slot.entry.game
        if slot.state == "t" and gone:
            slot.state = "x"
        return "matching", slot.entry.game

    async def renew(
        self, entries: Sequence[tuple[int, str]], now: float, ttl: float, claim: float
    ) -> list[Renewal]:
        return [self._renew(player_id, token, now, ttl, claim) for player_id, token in entries]

    def _renew(self, player_id: int, token: str, now: float, ttl: float, claim: float) -> Renewal:
        slot = self.slots.get(player_id)
        if slot is not None and slot.entry.token == token:
            if slot.state == "t" and slot.stamp <= now - claim:
                slot.state, slot.stamp = "q", now
            if slot.state == "q":
                slot.expires = now + ttl
                return Renewal.QUEUED
            return Renewal.MATCHING
        if self.finished.pop(token, None) is not None:
            return Renewal.FINISHED
        return Renewal.LAPSED if slot is None else Renewal.REPLACED

    async def take(self, game: str, now: float, rules: GroupRules) -> list[list[Entry]]:
        for player_id, slot in list(self.slots.items()):
            if slot.state == "q" and slot.entry.game == game and slot.expires < now:
                del self.slots[player_id]
        groups: list[list[Entry]] = []
        for anchor in self._waiting(game)[:ANCHORS_PER_TAKE]:
            if len(groups) >= GROUPS_PER_TAKE:
                break
            if self.slots[anchor.player_id].state != "q":
                continue  # taken into an earlier group of this call
            group = self._group(anchor, now, rules)
            for entry in group:
                self.slots[entry.player_id].state = "t"
                self.slots[entry.player_id].stamp = now
            if group:
                groups.append(group)
        return groups

    def _waiting(self, game: str) -> list[Entry]:
        queued = [s.entry for s in self.slots.values() if s.state == "q" and s.entry.game == game]
        # Redis orders equal scores by member, the player id as text; so does this.
        return sorted(queued, key=lambda e: (e.queued_at, str(e.player_id)))

    def _group(self, anchor: Entry, now: float, rules: GroupRules) -> list[Entry]:
        waited = max(now - anchor.queued_at, 0.0)
        window = rules.window(waited)
        others = [
            e
            for e in self._waiting(anchor.game)
            if e.player_id != anchor.player_id and abs(e.rating - anchor.rating) <= window
        ]
        others.sort(key=lambda e: (abs(e.rating - anchor.rating), e.queued_at, str(e.player_id)))
        size = min(len(others) + 1, rules.max_size)
        if size == rules.max_size or (size >= rules.min_size and waited >= rules.fill_seconds):
            return [anchor, *others[: size - 1]]
        return []

    async def requeue(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        for entry in entries:
            slot = self.slots.get(entry.player_id)
            if slot is None or slot.entry != entry:
                continue
            if slot.state == "t":
                slot.state, slot.stamp, slot.expires = "q", now, now + ttl
            elif slot.state == "x":
                del self.slots[entry.player_id]

    async def finish(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        self.finished = {token: at for token, at in self.finished.items() if at >= now}
        for entry in entries:
            slot = self.slots.get(entry.player_id)
            if slot is not None and slot.entry == entry:
                del self.slots[entry.player_id]
                self.finished[entry.token] = now + ttl

    async def queued(self, game: str) -> list[Entry]:
        return self._waiting(game)


# --- The matcher of one process ------------------------------------------------------------


def _entry_for(player_id: int, game: str, token: str, now: float) -> Entry:
    """A queue entry for the player, read fresh: a ban or rating change since connecting counts."""
    player = Player.objects.filter(pk=player_id).first()
    if player is None:
        raise services.InvalidRequest("This player no longer exists.")
    services.check_can_queue(player, game)
    return Entry(player.pk, game, token, player.rating_mu, now)


class MatchmakingHub:
    """This process's queued lobby sockets, and the matcher that runs while it has any."""

    def __init__(self) -> None:
        self.local: dict[str, Entry] = {}  # by token: the channel name of the lobby socket
        # Sockets sent word that their entry is gone, until they read it (`lost_place_news`).
        self.lost_place: set[str] = set()
        self.memory = MemoryQueue()
        self.stopped = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def queue(self) -> QueueBackend:
        return RedisQueue() if cluster_redis.enabled() else self.memory

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
            with contextlib.suppress(Exception):
                await self.disconnected(token)

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
        """Renew this process's entries, then form groups in the games they wait for."""
        await self._renew(now)
        for game in sorted({entry.game for entry in self.local.values()}):
            for group in await self.queue().take(game, now, rules_for(game)):
                await self._seat(group)

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
                await events.announce_lost_place(token, entry.game, LOST_PLACE_REASONS[state])

    async def _seat(self, group: list[Entry]) -> None:
        game, ttl = group[0].game, settings.MATCHMAKING_TTL_SECONDS
        try:
            made = await database_sync_to_async(services.create_queued_match)(
                game, [entry.player_id for entry in group]
            )
        except Exception:
            logger.exception("could not create a %s match for %s", game, group)
            await self.queue().requeue(group, time.time(), ttl)
            return
        if made.match is not None:
            await self.queue().finish(group, time.time(), ttl)
            return
        refused = [entry for entry in group if entry.player_id in made.refused]
        others = [entry for entry in group if entry.player_id not in made.refused]
        await self.queue().requeue(others, time.time(), ttl)
        await self.queue().finish(refused, time.time(), ttl)
        for entry in refused:
            await events.announce_unqueued(entry.player_id, game, made.refused[entry.player_id])
