"""The match runners of one process: which it runs, and its right to run them.

When a socket of this process needs a match's runner and nobody runs the match,
the registry claims it (a Redis lease with a fencing token above the database's
fence when REDIS_URL is set; this process's memory otherwise) and starts its
runner, from its last checkpoint if another process ran it before. While a
runner runs, its lease is renewed (and taken again if Redis lost it); a lease
another process took stops it. The watchdog adopts the matches of this
process's sockets whose runner died elsewhere: at once when Redis shows that
the runner's process has lost its connection (killed, crashed), otherwise
when its lease expires. A runner that stops is forgotten and its lease
released.

May import: `games.cluster` (leases, checkpoints, the Redis switch),
`games.runtime.match` (the runner and its store), `games.runtime.fanout` (the
runner's transport), `games.runtime.messages` and `metrics`, and
`games.services.errors`. Must not import `games.runtime.process` (which wires
this registry) or `games.runtime.routing` (which it hands each new runner to,
through the `on_start` it is given).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Executor
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings

from games.cluster import checkpoints, leases, shared
from games.cluster import redis as cluster_redis
from games.protocol import ENDED, MatchStatus
from games.runtime import metrics
from games.runtime.fanout import Fanout, FanoutTransport, LocalSockets
from games.runtime.match.runner import MatchRunner
from games.runtime.match.store import DatabaseStore
from games.services.errors import StaleRunner

logger = logging.getLogger(__name__)

# After finding that another process runs a match, trust that for this long before asking again.
REMOTE_CACHE_SECONDS = 2.0
# An active match that nobody runs and that has no checkpoint (its runner died in its
# first second, or Redis lost everything) is aborted after this many lease lengths: its
# runner, if it still lives, takes its lease again and checkpoints well before that.
ORPHAN_LEASES = 3
# A holder seen connected to Redis is dead once it has been missing for this long, at two
# looks of the watchdog at least: a single look could fall between a live process's
# connection dropping and its reconnection (the fan-out's first retry is 0.1 s later).
DEAD_AFTER_SECONDS = 0.25
# A holder not seen for this long is forgotten: any lease of its expired long since.
FORGET_AFTER_SECONDS = 60.0

Spawn = Callable[[Coroutine[Any, Any, None]], None]


class Liveness:
    """Which lease holders are dead, by the connections Redis has of their processes.

    A process killed or crashed has its TCP connections closed by its kernel at
    once, so Redis drops its named pub/sub connection at once; a process that is
    only slow (a loaded core, a long pause of its loop) keeps its connection
    while its lease renewals run late. A holder is dead only on positive
    evidence: this process saw its connection before, and has missed it for
    DEAD_AFTER_SECONDS. A holder never seen (its Redis refused the name, or it
    started a moment ago) and every holder when Redis cannot list its clients
    are left to their leases' expiry. What this cannot tell: a host lost
    without closing its connections (power, a network cut, which Redis notices
    only at its TCP keepalive) is adopted at expiry too.

    A look that does not list this process's own connection proves nothing:
    this process, and maybe every other, is reconnecting (Redis restarted, or
    was cut off); what was missing before is forgotten too. Once this process
    is connected again, it claims no match that had a runner for a lease
    length (`RunnerRegistry.recovered`), time for the others to reconnect.
    """

    def __init__(self, own: str) -> None:
        self._own = own  # this process's holder id
        self._seen: dict[str, float] = {}  # holder -> loop time of the last look that saw it
        self._missing: dict[str, float] = {}  # holder seen before -> first look without it

    def look(self, connected: set[str], now: float) -> None:
        """One look at the holders connected now."""
        if self._own not in connected:
            self._missing.clear()
            return
        for holder in connected:
            self._seen[holder] = now
            self._missing.pop(holder, None)
        for holder, seen in list(self._seen.items()):
            if holder in connected:
                continue
            if now - seen > FORGET_AFTER_SECONDS:
                del self._seen[holder]
                self._missing.pop(holder, None)
            else:
                self._missing.setdefault(holder, now)

    def dead(self, holder: str, now: float) -> bool:
        missing = self._missing.get(holder)
        return missing is not None and now - missing >= DEAD_AFTER_SECONDS


class RunnerRegistry:
    """The runners of this process by match id, and the leases that entitle them to run."""

    def __init__(
        self,
        holder: str,
        *,
        local: LocalSockets,
        fanout: Fanout | None,
        attached: Mapping[str, int],
        thinking: Executor,
        draining: Callable[[], bool],
        spawn: Spawn,
        on_start: Callable[[MatchRunner, BaseChannelLayer], None],
    ) -> None:
        self.holder = holder
        self.runners: dict[str, MatchRunner] = {}
        self.store = DatabaseStore()
        self._local = local
        self._fanout = fanout
        self._attached = attached  # matches with sockets here: the watchdog's list
        self._thinking = thinking
        self._draining = draining
        self._spawn = spawn
        self._on_start = on_start  # the routing listens for the runner's operations
        self._remote_until: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # After Redis comes back, live runners take their leases again before anyone
        # adopts their matches: until this loop time, only never-run matches are claimed.
        self._holdoff_until = 0.0
        self._recovery = asyncio.Event()  # set (and replaced) whenever Redis is back
        self._orphaned: dict[str, float] = {}  # active, unrun, no checkpoint: since when
        self._liveness = Liveness(holder)
        # Matches found over while sockets here remain (a result screen): not looked at again.
        self._over: set[str] = set()
        self.watchdog: asyncio.Task[None] | None = None

    async def runner_for(self, match_id: str) -> MatchRunner | None:
        """The match's runner here, or one started here unless another process is
        known to run it (None: the match runs elsewhere, or cannot run now)."""
        runner = self.runners.get(match_id)
        if runner is None and not self._known_remote(match_id):
            runner = await self._ensure_runner(match_id)
        return runner

    def watch(self) -> None:
        """Start the watchdog unless it runs (it ends when no socket here is attached)."""
        if self.watchdog is None or self.watchdog.done():
            self.watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def hand_over(self) -> int:
        """Stop every runner after a final checkpoint and release its lease (a drain):
        other processes adopt the matches at once. How many there were."""
        runners = list(self.runners.values())
        await asyncio.gather(*(runner.hand_over() for runner in runners))
        await asyncio.gather(*(self._release(r.lease) for r in runners if not r.lost))
        return len(runners)

    def recovered(self) -> None:
        """Redis answers again: runners renew (or take again) their leases now, and
        nobody adopts a match that had a runner for a lease length."""
        self._holdoff_until = asyncio.get_running_loop().time() + settings.MATCH_LEASE_SECONDS
        self._remote_until.clear()
        self._recovery.set()
        self._recovery = asyncio.Event()

    async def _watch(self) -> None:
        """Adopt matches whose runner died while sockets here remain: at once when its
        process's connection to Redis is gone, or when its lease has expired.

        Each look (every MATCH_WATCHDOG_SECONDS) is one MGET of the leases of the
        matches of this process's sockets that run elsewhere, and one CLIENT LIST
        of the pub/sub connections: a killed runner's match runs
        again about DEAD_AFTER_SECONDS plus one or two looks after the kill, and
        one whose death Redis cannot see within MATCH_LEASE_SECONDS plus a look.
        """
        while self._attached:
            await asyncio.sleep(settings.MATCH_WATCHDOG_SECONDS)  # a polling period, not an event
            self._over.intersection_update(self._attached)
            watched = [m for m in self._attached if m not in self.runners and m not in self._over]
            try:
                held = await leases.holders(watched)
                dead = await self._dead_holders(held)
            except cluster_redis.FAILURES as exc:
                cluster_redis.outage.failed("the watchdog", exc)
                continue  # the next look
            for match_id, value in held.items():
                if value is not None and leases.holder_of(value) not in dead:
                    continue
                try:
                    self._remote_until.pop(match_id, None)
                    await self._ensure_runner(match_id, replacing=value)
                except cluster_redis.FAILURES as exc:
                    cluster_redis.outage.failed("the watchdog", exc)
                    break  # the next look
                except Exception:
                    logger.exception("watchdog could not check match %s", match_id)

    async def _dead_holders(self, held: Mapping[str, str | None]) -> set[str]:
        """Which holders of these leases have a dead process behind them (see Liveness).

        Redis's pub/sub connections are listed at every look, even with no lease to
        judge: a process learns every live process while it can, so that when one dies
        and its players come here (routed by match, they were all on it), the evidence
        that it was connected is at hand.
        """
        holders = {leases.holder_of(value) for value in held.values()} - {None, self.holder}
        connected = await leases.connected()
        if connected is None:
            return set()
        now = asyncio.get_running_loop().time()
        self._liveness.look(connected, now)
        return {h for h in holders if h is not None and self._liveness.dead(h, now)}

    def _known_remote(self, match_id: str) -> bool:
        loop = asyncio.get_running_loop()
        return self._remote_until.get(match_id, 0.0) > loop.time()

    def _remote_for_a_while(self, match_id: str) -> None:
        loop = asyncio.get_running_loop()
        self._remote_until[match_id] = loop.time() + REMOTE_CACHE_SECONDS

    async def _ensure_runner(
        self, match_id: str, replacing: str | None = None
    ) -> MatchRunner | None:
        """Start the match's runner here if nobody runs it (or its lease is `replacing`,
        held by a dead process)."""
        if self._draining():
            return None  # shutting down: leave the match to the other processes
        lock = self._locks.setdefault(match_id, asyncio.Lock())
        async with lock:
            if match_id in self.runners:
                return self.runners[match_id]
            if shared().is_local:
                info = await self.store.load(match_id)
                return await self._start_runner(info, None)
            try:
                return await self._claim(match_id, replacing)
            except cluster_redis.FAILURES as exc:
                cluster_redis.outage.failed(f"starting a runner for match {match_id}", exc)
                self._remote_for_a_while(match_id)  # ask again later, not at every input
                return None
            except Exception as exc:  # the database, most likely: asked again later too
                logger.warning("could not start a runner for match %s: %r", match_id, exc)
                self._remote_for_a_while(match_id)
                return None

    async def _claim(self, match_id: str, replacing: str | None = None) -> MatchRunner | None:
        """Take the match's lease, with a token above the database's fence, and run it.

        With `replacing`, the lease value of a dead holder: taken over only if it is
        still the one held (nobody adopted the match meanwhile). The database's fence
        stays the authority: if the holder lives after all, its writes are refused
        once this runner's token is recorded, and its next renewal stops it.
        """
        held = await leases.holder(match_id)
        if held is not None and held != replacing:
            self._remote_for_a_while(match_id)
            return None
        info = await self.store.load(match_id)
        if info is None or info.status in ENDED:
            self._over.add(match_id)
            return None
        if not await self._may_claim(info):
            self._remote_for_a_while(match_id)
            return None
        lease = await leases.claim(match_id, self.holder, info.runner_fence, held)
        if lease is None:
            self._remote_for_a_while(match_id)
            return None
        if held is not None:
            logger.warning(
                "match %s: the process running it (%s) has no connection to Redis any more; "
                "taken over with token %d before its lease ran out",
                match_id,
                leases.holder_of(held),
                lease.token,
            )
        try:
            # Recorded before the runner starts: the database knows every token handed out,
            # so a counter lost with Redis can never hand out an old one again.
            await self.store.take_fence(match_id, lease.token)
        except StaleRunner:
            await self._release(lease)
            self._remote_for_a_while(match_id)
            return None
        return await self._start_runner(info, lease)

    async def _may_claim(self, info: Any) -> bool:
        """Whether to claim a match nobody holds now, rather than wait for its runner.

        A match never run (no token recorded) is claimed at once. Just after Redis
        came back, one that had a runner is left to it for a lease length: the
        runner takes its lease again (with its state, newer than any checkpoint).
        An active match without a checkpoint is adopted (to be aborted: there is
        nothing to continue from) only after ORPHAN_LEASES lease lengths, in case
        its runner still lives and has yet to notice that Redis lost its lease.
        """
        if not info.runner_fence:
            return True
        now = asyncio.get_running_loop().time()
        if now < self._holdoff_until:
            return False
        if info.status != MatchStatus.ACTIVE or await checkpoints.exists(info.id):
            self._orphaned.pop(info.id, None)
            return True
        since = self._orphaned.setdefault(info.id, now)
        if since == now:
            logger.warning(
                "match %s: nobody runs it and it has no checkpoint; aborting it unless its "
                "runner is back within %.0f s",
                info.id,
                ORPHAN_LEASES * settings.MATCH_LEASE_SECONDS,
            )
        return now - since >= ORPHAN_LEASES * settings.MATCH_LEASE_SECONDS

    async def _start_runner(self, info: Any, lease: leases.Lease | None) -> MatchRunner | None:
        if info is None or info.status in ENDED:
            await self._release(lease)
            return None
        match_id = info.id
        restored = None
        if info.status == MatchStatus.ACTIVE:
            # The process that ran it is gone: continue from its last checkpoint.
            restored = await checkpoints.load(match_id) if lease is not None else None
            if restored is None:
                self._orphaned.pop(match_id, None)
                reason = "the server running it stopped, and its state was lost"
                await self.store.abort(match_id, reason, lease.token if lease else None)
                await self._release(lease, match_over=True)
                return None
        layer = get_channel_layer()
        assert layer is not None
        runner = MatchRunner(
            info,
            FanoutTransport(
                layer, self._fanout, self._local, match_id, lease.token if lease else None
            ),
            self.store,
            lease=lease,
            checkpoints=checkpoints if lease is not None else None,
            restored=restored,
            grace_seconds=settings.MATCH_RECONNECT_GRACE_SECONDS,
            on_stop=self._forget,
            thinking=self._thinking,
        )
        self.runners[match_id] = runner
        if restored is not None:
            metrics.adopted(info.game)
        runner.start()
        self._on_start(runner, layer)
        if lease is not None:
            self._spawn(self._keep_lease(runner))
        return runner

    async def _keep_lease(self, runner: MatchRunner) -> None:
        """Renew the runner's lease every third of its length, for as long as it runs.

        The renewal goes out on the leases' own connection and thread (see
        games.cluster.leases), never behind the process's other Redis traffic.

        While Redis is unreachable the runner goes on and the renewal is retried.
        A lease that vanished meanwhile (expired, or lost with Redis's data) is
        taken again if nobody claimed the match since; one another process holds
        stops the runner, and this process's sockets join the other's runner.
        """
        period = settings.MATCH_LEASE_SECONDS / 3
        loop = asyncio.get_running_loop()
        unreachable = False
        due = loop.time() + period
        while runner.task is not None and not runner.task.done():
            recovered = asyncio.ensure_future(self._recovery.wait())
            try:
                # On absolute deadlines: on a loaded loop the answer comes back late, and
                # counting the period from it would stretch every renewal by that much.
                await asyncio.wait({runner.task, recovered}, timeout=max(0.0, due - loop.time()))
            finally:
                recovered.cancel()
            if runner.task.done() or runner.lease is None:
                break
            now = loop.time()
            # The next one a period after this one was due; a period from now if this one
            # came early (Redis is back) or over a period late (no catching up twice).
            due = now + period if now < due or due + period <= now else due + period
            renewal: leases.Renewal | None
            try:
                renewal = await leases.renew(runner.lease)
                if renewal is leases.Renewal.VANISHED:
                    renewal = await self._take_lease_again(runner, runner.lease)
            except cluster_redis.FAILURES as exc:
                cluster_redis.outage.failed(f"the lease of match {runner.match_id}", exc)
                if not unreachable:
                    unreachable = True
                    logger.warning(
                        "match %s: lease not renewed (Redis unreachable); its runner goes on",
                        runner.match_id,
                    )
                continue
            if renewal is leases.Renewal.TAKEN:
                await self._stop_for_successor(runner)
                return
            if unreachable and renewal is leases.Renewal.RENEWED:
                unreachable = False
                logger.warning("match %s: lease renewed again", runner.match_id)

    async def _take_lease_again(
        self, runner: MatchRunner, lease: leases.Lease
    ) -> leases.Renewal | None:
        """The runner's lease vanished: take it with the next token, recorded in the
        database first (the authority when Redis lost its counter). None: try again."""
        taken = await leases.reestablish(lease)
        if taken is None:
            return leases.Renewal.TAKEN
        new, lost = taken
        try:
            await self.store.take_fence(runner.match_id, new.token, since=lease.token)
        except StaleRunner:
            await self._release(new)
            return leases.Renewal.TAKEN
        except Exception:
            logger.exception("match %s: could not record its new lease", runner.match_id)
            await self._release(new)  # vanished again: retried at the next renewal
            return None
        runner.take_lease(new, lost)
        logger.warning(
            "match %s: its lease vanished (%s); taken again with token %d (was %d)",
            runner.match_id,
            "Redis lost its data" if lost else "it expired while Redis was unreachable",
            new.token,
            lease.token,
        )
        return leases.Renewal.RENEWED

    async def _stop_for_successor(self, runner: MatchRunner) -> None:
        """Another process runs the match now: stop here, and send this process's sockets
        of the match to the new runner (its own request through the group may have been
        lost while this process could not hear it)."""
        logger.error(
            "match %s: another process took its lease (Redis was unreachable from here for "
            "longer than the lease); stopping this runner, the other goes on",
            runner.match_id,
        )
        runner.lose_lease()
        if runner.task is not None:
            await asyncio.wait({runner.task})
        rejoin = {"type": "match.rejoin", "fence": None}
        channels = [
            channel
            for channel, consumer in self._local.by_channel.items()
            if getattr(consumer, "match_id", None) == runner.match_id
        ]
        await self._local.deliver(channels, rejoin)

    def _forget(self, runner: MatchRunner) -> None:
        if self.runners.get(runner.match_id) is runner:
            del self.runners[runner.match_id]
        self._locks.pop(runner.match_id, None)
        if runner.lease is not None and not runner.lost and not self._draining():
            over = runner.status in ENDED
            # (a drain releases after its checkpoint)
            self._spawn(self._release(runner.lease, match_over=over))

    async def _release(self, lease: leases.Lease | None, *, match_over: bool = False) -> None:
        if lease is None:
            return
        try:
            await leases.release(lease, match_over=match_over)
        except cluster_redis.Unavailable as exc:
            cluster_redis.outage.failed(f"releasing the lease of match {lease.match_id}", exc)
