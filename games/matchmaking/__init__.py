"""The matchmaking queue behind the lobby's "Play now": one queue per game, shared by every process.

A player queues from their lobby socket. Players are grouped by rating
(openskill mu): the oldest player waiting anchors a group of those whose
rating lies within a window around theirs, a window that widens the longer
the anchor has waited (`GroupRules.window`). A group is as large as the
game's seats; a game for fewer players than its seats (arena, 2-8) starts
with everyone in the window once the anchor has waited MATCHMAKING_FILL_SECONDS.
A player still alone after MATCHMAKING_BOT_FILL_SECONDS gets a match with bots
(`services.create_queued_bot_match`), taken from the queue like a group.

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
take one player twice. Without Redis there is one process and `LocalQueue`
does the same in its memory; no step awaits in the middle, so each is atomic
on the event loop.

Every process with a queued socket runs the matcher for that socket's game
(`Matchmaker`, in `matcher.py`): it renews its own entries (so the entries of a process
that died expire) and takes groups. The process that took a group creates
the match (`services.create_queued_match`), which tells every player of it
after commit, on their lobby sockets, whichever process holds them.

Modules: `rules` (entries, grouping by rating), `backend` (the queue's steps, one
interface), `redis_queue` (the Lua scripts), `local_queue`, `matcher` (this
process's queued sockets and its matching rounds).

May import: `games.services`, `games.cluster`, `games.protocol`, `games.engine`,
`games.models` (a queued player's fresh rating), `games.runtime.messages` (the
channel and group names), `games.runtime.metrics` (the queue's wait times).
Must not import: `games.sockets`, the rest of `games.runtime`.
"""

from games.matchmaking.backend import QueueBackend
from games.matchmaking.local_queue import LocalQueue
from games.matchmaking.matcher import Matchmaker
from games.matchmaking.redis_queue import RedisQueue
from games.matchmaking.rules import Entry, GroupRules, Renewal, rules_for

__all__ = [
    "Entry",
    "GroupRules",
    "LocalQueue",
    "Matchmaker",
    "QueueBackend",
    "RedisQueue",
    "Renewal",
    "rules_for",
]
