"""The queue in Redis: one Lua script per step, so each step is atomic across processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from games.cluster import redis as cluster_redis
from games.engine import GAMES
from games.matchmaking.rules import ANCHORS_PER_TAKE, GROUPS_PER_TAKE, Entry, GroupRules, Renewal

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


# arg: now, then (player, token, queued_at) triples. Returns the players taken.
_CLAIM = """
local taken = {}
local i = 2
while arg(i) do
  local player = arg(i)
  local e = load(player)
  if e and e[1] == 'q' and e[3] == arg(i + 1) and e[4] == arg(i + 2) then
    e[1] = 't'
    e[6] = arg(1)
    store(player, e)
    unlist(e[2], player)
    taken[#taken + 1] = player
  end
  i = i + 3
end
return taken
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

    async def claim(self, entries: Sequence[Entry], now: float) -> list[Entry]:
        if not entries:
            return []
        taken = await self._run(_CLAIM, list(GAMES), [_number(now), *_identity(entries)])
        ids = {int(_text(player)) for player in taken}
        return [entry for entry in entries if entry.player_id in ids]

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

    async def queued(self, game: str, limit: int | None = None) -> list[Entry]:
        if limit is not None and limit <= 0:
            return []
        client = cluster_redis.async_client()
        last = -1 if limit is None else limit - 1
        players = cast(
            list[bytes], await client.zrange(cluster_redis.key("mm", game, "waiting"), 0, last)
        )
        if not players:
            return []
        raw = await client.hmget(cluster_redis.key("mm", "entries"), players)
        return [_parse(f"{_text(p)}|{_text(r)}") for p, r in zip(players, raw, strict=True) if r]


def _parse(member: str) -> Entry:
    """An entry as a script returns it: "player|state|game|token|queued_at|rating|stamp"."""
    player, _state, game, token, queued_at, rating, _stamp = member.split("|")
    return Entry(int(player), game, token, float(rating), float(queued_at))
