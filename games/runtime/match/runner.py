"""One authority per match: the engine state, the fixed-rate loop, the validation order,
the lifecycle (waiting -> active -> finished or aborted).

A runner lives in a daphne process under the process's ProcessRuntime, never
inside a player's consumer, so the match does not depend on which socket
hosts it. Consumers post typed operations to it (`ops`: directly in the same
process, over the runner's channel from other processes); it handles them at
its next tick, one method per kind, and answers with frames encoded once and
sent through its transport.

The parts it is made of are synchronous and do no I/O: the seats (`roster`),
the state encoder (`encoder`), the checkpoint policy (`checkpointing`) and the
tick schedule (`schedule`). The runner does the awaiting: the store, the
transport and the checkpoints it is handed (`ports`).

Order of checks for an input (the engine validates last): the sender holds a
seat, the match is active, the seat is still in play and this is its socket,
then the rules (the turn, legality, a stale sequence number).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import msgspec
from django.conf import settings

from games import protocol
from games.cluster import redis as cluster_redis
from games.cluster.leases import Lease
from games.engine import get_game
from games.engine.base import Event, Game, IllegalInput, InvalidInput
from games.protocol import MatchStatus
from games.runtime import metrics
from games.runtime.match import ops
from games.runtime.match.bots import BotDriver
from games.runtime.match.checkpointing import Checkpointer
from games.runtime.match.encoder import StateEncoder
from games.runtime.match.inputs import InputBuffer
from games.runtime.match.ports import Checkpoints, MatchInfo, Restored, SeatRow, Store, Transport
from games.runtime.match.roster import Roster, Seat
from games.runtime.match.schedule import TickSchedule
from games.services.errors import NotReady, StaleRunner
from games.services.results import ReplayData, SeatRecord

logger = logging.getLogger(__name__)

# A waiting match with nobody connected stops its runner after this long (it stays in the lobby).
IDLE_STOP_SECONDS = 30.0
# Before the start, a seat whose player is not connected for this long is given up, so
# a reserved but empty seat cannot hold a match back (a page reload is much quicker).
WAITING_SEAT_SECONDS = 10.0
# A game whose tick raises this many times in a row is broken: the match is aborted
# (unrated) instead of retried for ever, or re-adopted into the same crash.
MAX_FAILED_TICKS = 3
BROKEN_REASON = "the game stopped working because of an error on the server"
EVERYONE_LEFT_REASON = "every player left"


class MatchRunner:
    def __init__(
        self,
        info: MatchInfo,
        transport: Transport,
        store: Store,
        *,
        lease: Lease | None = None,
        checkpoints: Checkpoints | None = None,
        restored: Restored | None = None,
        grace_seconds: float | None = None,
        countdown_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_stop: Callable[[MatchRunner], None] | None = None,
        thinking: Executor | None = None,
    ) -> None:
        """`thinking`: where turn-based bots think, off the event loop (see bots.py);
        None: on the spot (tests with fakes). `countdown_seconds`: the start's countdown
        (None: MATCH_COUNTDOWN_SECONDS, or the game's own when that is unset)."""
        self.info = info
        self.match_id = info.id
        self.game: Game[Any] = get_game(info.game)
        self.tick_rate = int(info.settings.get("tick_rate", self.game.tick_rate))
        self.transport = transport
        self.store = store
        self.lease = lease
        self.fence = lease.token if lease else None
        self.grace = self.game.reconnect_grace_seconds if grace_seconds is None else grace_seconds
        if countdown_seconds is None:
            countdown_seconds = settings.MATCH_COUNTDOWN_SECONDS
        if countdown_seconds is None:
            countdown_seconds = self.game.countdown_seconds
        self.countdown_ticks = round(countdown_seconds * self.tick_rate)
        # Ticks of the start's countdown still to wait: the runner holds the game until
        # then (no input applied, no bot asked, no tick simulated), so nobody moves or
        # fires before GO on any client, and the replay starts at GO as the game did.
        self.countdown = 0
        self.clock = clock
        self.on_stop = on_stop
        self.status = info.status
        self.roster = Roster(info.seats)
        self.encoder = StateEncoder(self.game, self.tick_rate)
        self.checkpointer = Checkpointer(self.game, self.tick_rate)
        self.checkpoints = checkpoints
        self.state: Any = None
        self.inbox: list[ops.Operation] = []
        # One input per seat per tick, in order, for real-time games; the newest of a tick
        # for turn-based ones (see inputs.py).
        self.inputs = InputBuffer(not self.game.turn_based, self.game.merge_inputs)
        # The seats it plays itself.
        self.bots = BotDriver(self.game, info.settings, info.seed, thinking)
        self.max_lag_ms: int = settings.LAG_COMPENSATION_MS
        self.log: list[list[Any]] = []
        self.lost = False
        self.task: asyncio.Task[None] | None = None
        self._stopping = False
        self._start_attempted_for: frozenset[int] | None = None
        self._idle_since: float | None = self.clock()
        # The game ended while no seated player was connected: the result waits for one
        # to come back (then it counts) or for the grace period to end (then: aborted).
        self._result_held = False
        self._adopted = restored is not None
        self._failed_ticks = 0  # the game's tick raised in this many ticks in a row
        self._failed_steps = 0  # the runner's step raised in this many ticks in a row
        self._failed_inputs = 0  # inputs the game raised on (each was dropped)
        self._tick_errors = 0  # ticks the game raised in, in all
        if restored is not None:
            self._adopt(*restored)

    def _adopt(self, payload: dict[str, Any], log: list[list[Any]]) -> None:
        """Continue from the checkpoint of a process that died; everyone gets the grace period."""
        self.state = self.game.restore(payload["state"])
        self.status = MatchStatus.ACTIVE
        self.log = log
        self.checkpointer.continue_from(self.game.current_tick(self.state), len(log))
        # What was left of the start's countdown (checkpoints before it have none).
        self.countdown = int(payload.get("countdown", 0))
        self.roster.restore(payload["slots"], self.clock())
        # No seat has a socket here yet: each holds still until its player is back.
        for seat in self.roster.seats.values():
            if not seat.abandoned:
                self._hold_still(seat)

    @property
    def seats(self) -> dict[int, Seat]:
        """The seated players by player id (the roster's)."""
        return self.roster.seats

    # --- Life ---------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"runner {self.match_id}"
        )

    def post(self, op: ops.Operation) -> None:
        """Queue an operation from a consumer; handled at the next tick."""
        self.inbox.append(op)

    def stop(self) -> None:
        self._stopping = True

    def lose_lease(self) -> None:
        """Another process may run this match now: stop without writing or sending anything."""
        if not self.lost:
            metrics.lease_lost(self.info.game)
        self.lost = True
        self._stopping = True

    async def _run(self) -> None:
        try:
            await self._loop()
        except Exception:
            logger.exception("runner of match %s crashed", self.match_id)
        finally:
            if self.on_stop:
                self.on_stop(self)

    async def _loop(self) -> None:
        schedule = TickSchedule(1.0 / self.tick_rate, self.clock())
        while not self._stopping:
            delay = schedule.delay_until_next(self.clock())
            if schedule.just_skipped:
                logger.warning(
                    "match %s runner fell %d ticks behind and skipped them (%d in all)",
                    self.match_id,
                    schedule.just_skipped,
                    schedule.skipped,
                )
                metrics.ticks_skipped(self.info.game, schedule.just_skipped)
            if delay > 0:
                await asyncio.sleep(delay)
            started = self.clock()
            await self.guarded_step()
            deadline = schedule.start + schedule.ticks * schedule.period
            metrics.tick(self.info.game, started - deadline, self.clock() - started)

    async def guarded_step(self) -> None:
        """One step; an exception ends only this tick, so the match goes on at the next.

        The game's own faults are handled closer (inputs, ticks); this catches the
        rest. Logged with its traceback once per run of failures, not once per tick.
        """
        try:
            await self.step()
        except Exception:
            self._failed_steps += 1
            metrics.RUNNER_ERRORS.labels(self.info.game, "step").inc()
            if self._failed_steps == 1:
                logger.exception("match %s: a tick of its runner failed", self.match_id)
            return
        if self._failed_steps:
            logger.warning(
                "match %s: its runner recovered after %d failed ticks",
                self.match_id,
                self._failed_steps,
            )
            self._failed_steps = 0

    async def step(self) -> None:
        """One tick: the operations received since the last, then the match moves on."""
        if self._adopted:
            # Sockets on other processes were talking to the dead runner: ask them to join again.
            self._adopted = False
            logger.warning(
                "adopted match %s at tick %s", self.match_id, self.checkpointer.last_tick
            )
            await self.transport.request_rejoin()
        await self._handle_inbox()
        if self._stopping:
            return
        if self.status == MatchStatus.WAITING:
            await self._release_empty_seats()
            await self._maybe_start()
            self._maybe_idle_stop()
        elif self.status == MatchStatus.ACTIVE:
            await self._simulate()

    # --- Operations from consumers ----------------------------------------------------

    async def _handle_inbox(self) -> None:
        inbox, self.inbox = self.inbox, []
        for op in inbox:
            # Operations come from other processes too: one that cannot be handled is
            # dropped on its own, never with the rest of the inbox or the runner.
            try:
                await self.handle(op)
            except Exception:
                metrics.RUNNER_ERRORS.labels(self.info.game, "inbox").inc()
                logger.exception(
                    "match %s: dropped an operation it could not handle: %.200r",
                    self.match_id,
                    op,
                )

    async def handle(self, op: ops.Operation) -> None:
        """Hand one operation to its method."""
        match op:
            case ops.Input():
                await self.input(op)
            case ops.Join():
                await self.join(op)
            case ops.Leave():
                await self.leave(op)
            case ops.Ready():
                await self.ready(op)
            case ops.Resync():
                await self.resync(op)
            case ops.Chat():
                await self.chat(op)
            case ops.Aborted():
                self.aborted(op)

    async def join(self, op: ops.Join) -> None:
        """A socket joins: it gets a welcome, everyone the new players list. A seat's
        earlier socket is closed (4010): a player plays a seat from one socket."""
        joined = self.roster.join(op, waiting=self.status == MatchStatus.WAITING)
        if joined.superseded:
            await self._close(joined.superseded, protocol.CloseCode.SUPERSEDED)
        self._idle_since = None
        await self._send(op.channel, self._welcome(op.player_id, op.subprotocol))
        await self._broadcast_players()

    async def leave(self, op: ops.Leave) -> None:
        """A socket is gone. Its seat holds still (the game's neutral input) and keeps its
        place for the grace period."""
        seat = self.roster.leave(op.player_id, op.channel, self.clock())
        if seat is None:
            return  # a spectator, or a socket that was already superseded
        if self.status == MatchStatus.ACTIVE:
            self._hold_still(seat)
        if not self.roster.anyone_connected():
            self._idle_since = self.clock()
        await self._broadcast_players()

    async def ready(self, op: ops.Ready) -> None:
        if self.status == MatchStatus.WAITING and self.roster.mark_ready(op.player_id):
            await self._broadcast_players()

    async def resync(self, op: ops.Resync) -> None:
        """A full state for a client that lost track: a fresh welcome."""
        await self._send(
            op.channel, self._welcome(op.player_id, self.roster.encodings.get(op.channel))
        )

    async def chat(self, op: ops.Chat) -> None:
        """A chat line, to every socket of the match like every other frame."""
        seat = self.roster.get(op.player_id)
        number = seat.seat if seat else None
        await self._broadcast(protocol.chat(op.player_id, op.name, number, op.text))

    def aborted(self, op: ops.Aborted) -> None:
        """A service aborted the match and told its sockets: stop."""
        self.stop()

    async def input(self, op: ops.Input) -> None:
        """Queue an input for the next tick, after the checks that come before the rules."""
        seat = self.roster.get(op.player_id)
        if seat is None:
            await self._error(op.channel, protocol.ErrorCode.SPECTATOR, "Spectators cannot play.")
        elif self.status != MatchStatus.ACTIVE:
            await self._error(op.channel, protocol.ErrorCode.NOT_ACTIVE, _not_active(self.status))
        elif seat.abandoned:
            await self._error(op.channel, protocol.ErrorCode.NOT_ACTIVE, "You left this match.")
        elif seat.channel is not None and seat.channel != op.channel:
            # From a socket that was superseded, arriving late (inputs from other processes
            # take another path than leaves): it must not undo the newer socket's controls.
            # A seat with no socket known takes the input: after an adoption the seats
            # still on other processes are known again only once they rejoin, and their
            # moves must not be lost meanwhile.
            return
        else:
            try:
                data = self._checked_input(op.data)
            except InvalidInput as exc:
                await self._error(op.channel, protocol.ErrorCode.INVALID, exc.reason)
                return
            if op.ack is not None:
                seat.acked = op.ack
            if self.countdown:
                return  # sent before GO (the client's count ran ahead of ours): ignored
            self.inputs.put(seat.seat, data, op.channel)

    def _checked_input(self, raw: Any) -> Any:
        """The game's Input for `raw`; a lag it claims clamped to the server's bound here,
        so the log holds what counted.

        A socket of this process hands over the Input it parsed with this schema. One
        of another process (another release, say) sends it as data, checked again
        here: what is applied is logged and checkpointed.

        Raises InvalidInput if it does not fit the schema, or would not encode.
        """
        parsed = raw if type(raw) is self.game.Input else self.game.parse_input(raw)
        data = self.game.clamp_input(parsed, self.max_lag_ms)
        try:
            msgspec.msgpack.encode(data)  # as the log will hold it (dump_input's builtins)
        except (TypeError, ValueError, OverflowError) as exc:  # a schema check missed it
            raise InvalidInput("data", "This input cannot be stored.") from exc
        return data

    def _hold_still(self, seat: Seat) -> None:
        """The seat's socket is gone: at the next tick it gets the game's neutral input
        (an arena ship stops instead of flying on with its last controls into a wall)."""
        neutral = self.game.neutral_input(self.state, seat.seat)
        if neutral is not None:
            self.inputs.replace(seat.seat, neutral, None)  # what the socket sent is dropped

    # --- Waiting ------------------------------------------------------------------------

    async def _maybe_start(self) -> None:
        """Start once every seated player is connected and ready (and enough are)."""
        ready = self.roster.ready_players()
        if len(ready) < self.game.min_players or len(ready) < len(self.roster.seats):
            return
        if ready == self._start_attempted_for:
            return  # the database said not yet; wait for the ready set to change
        self._start_attempted_for = ready
        try:
            seats = await self.store.start(self.match_id, sorted(ready), self.fence)
        except NotReady:
            return
        except StaleRunner:
            self.lose_lease()
            return
        self._begin(seats)
        self.countdown = self.countdown_ticks
        # Checkpointed at once: a match whose process dies in its first second is
        # adopted from here instead of being lost (aborted) for want of a checkpoint.
        self.checkpointer.force()
        await self._maybe_checkpoint(moved=False)
        await self._broadcast_players()
        await self._broadcast_state([Event("started", {"seats": len(seats)})])

    async def _release_empty_seats(self) -> None:
        gone = self.roster.give_up(self.clock(), min(self.grace, WAITING_SEAT_SECONDS))
        for seat in gone:
            await self.store.leave(self.match_id, seat.player_id)
        if gone:
            self._start_attempted_for = None
            await self._broadcast_players()

    def _begin(self, seats: list[SeatRow]) -> None:
        self.roster.begin(seats)
        self.state = self.game.initial_state(self.info.settings, len(seats), self.info.seed)
        self.status = MatchStatus.ACTIVE

    def _maybe_idle_stop(self) -> None:
        if self._idle_since is not None and self.clock() - self._idle_since > IDLE_STOP_SECONDS:
            self.stop()

    # --- Active -----------------------------------------------------------------------------

    async def _simulate(self) -> None:
        expired = self.roster.expired(self.clock(), self.grace)
        if expired and not self.roster.any_seat_connected():
            # Nobody seated is left to play: no one should win by default.
            await self._abort(EVERYONE_LEFT_REASON)
            return
        if self._result_held:
            if self.roster.any_seat_connected():
                self.inputs.clear()  # the game is over: nothing more to apply
                await self._finish()
            return
        if self.countdown:
            self._count_down()
            return
        events: list[Event] = []
        # Bots answer where a player's input goes: applied, refused and logged alike.
        for seat, data in self.bots.inputs(self.state, self.roster):
            self.inputs.put(seat, data, None)
        pending = self.inputs.take()
        merged = self.inputs.take_merged()
        if merged:
            metrics.inputs_merged(self.info.game, merged)
        tick = self.game.current_tick(self.state)
        for seat, data, channel in pending:
            events += await self._apply(seat, data, channel, tick)
        events += self._abandon(expired, tick)
        if self.game.outcome(self.state) is None and not self._clock_held():
            events += self._tick()
            if self._failed_ticks >= MAX_FAILED_TICKS:
                await self._abort(BROKEN_REASON)
                return
        over = self.game.outcome(self.state) is not None
        if not over:
            # Stored before anyone sees it: a move a player saw on the board survives
            # the death of this process (the adopter starts from this checkpoint).
            await self._maybe_checkpoint(moved=bool(pending))
        # Real-time games move every tick (controls persist); turn-based ones on moves.
        changed = bool(events or pending) or not self.game.turn_based
        if changed or self.encoder.due_for_heartbeat(self.game.current_tick(self.state)):
            await self._broadcast_state(events)
        if expired:
            # The seats now `abandoned`, no grace left: the pages stop counting for them.
            await self._broadcast_players()
        if not over:
            return
        if self.roster.any_seat_connected():
            await self._finish()
        else:
            # Every seated player is away (a turn clock ran out meanwhile, say): a result
            # only counts if one of them comes back within the grace period.
            self._result_held = True
            logger.info(
                "match %s ended with no player connected; its result waits for one", self.match_id
            )

    def _count_down(self) -> None:
        """One tick of the start's countdown: the game holds, inputs are dropped.

        Nothing is broadcast: the players frame of the start (and every welcome) says
        how long the countdown has left, and the first state after it moves the tick.
        """
        self.inputs.clear()
        self.countdown -= 1
        if not self.countdown:
            logger.debug("match %s: countdown over, GO", self.match_id)

    def _clock_held(self) -> bool:
        """True while a turn-based game's clock must not run: the seat to move is
        connected and another seat in play waits out its grace period.

        The player who stayed must not lose on time to one who is gone: their clock
        waits until the other is back (it runs on then) or abandons at the end of the
        grace period (they win). Not the other way round: the seat to move gains
        nothing on its own clock by dropping its socket. The engine's tick does not
        advance meanwhile, so the input log and the replay agree with the game.
        """
        if not self.game.turn_based:
            return False
        mover = self.game.turn_seat(self.state)
        if mover is None:
            return False
        seats = self.roster.seats.values()
        if not any(s.seat == mover and s.connected for s in seats):
            return False
        return any(s.away for s in seats)

    async def _apply(self, seat: int, data: Any, channel: str | None, tick: int) -> list[Event]:
        """Apply one input and log it; a refused or failing input is dropped, alone."""
        try:
            events = self.game.apply_input(self.state, seat, data)
        except IllegalInput as refused:
            await self._error(channel, protocol.ErrorCode.ILLEGAL, refused.reason, refused.code)
            return []
        except Exception:
            metrics.RUNNER_ERRORS.labels(self.info.game, "input").inc()
            self._failed_inputs += 1
            if _first_or_tenfold(self._failed_inputs):  # one client must not flood the log
                logger.exception(
                    "match %s: seat %d's input %.200r raised; it was dropped (%d so far)",
                    self.match_id,
                    seat,
                    data,
                    self._failed_inputs,
                )
            return []
        self.log.append([tick, seat, self.game.dump_input(data)])
        return events

    def _tick(self) -> list[Event]:
        """The game's tick; one that raises is counted and skipped (the match goes on)."""
        try:
            events = self.game.tick(self.state)
        except Exception:
            self._failed_ticks += 1
            self._tick_errors += 1
            metrics.RUNNER_ERRORS.labels(self.info.game, "tick").inc()
            if self._failed_ticks > 1 or _first_or_tenfold(self._tick_errors):
                logger.exception(
                    "match %s: the game's tick raised (%d in a row, %d in all)",
                    self.match_id,
                    self._failed_ticks,
                    self._tick_errors,
                )
            return []
        self._failed_ticks = 0
        return events

    def _abandon(self, expired: list[Seat], tick: int) -> list[Event]:
        events: list[Event] = []
        for seat in expired:
            seat.abandoned = True
            events += self.game.remove_seat(self.state, seat.seat)
            self.log.append([tick, seat.seat, None])
        return events

    # --- Checkpoints ----------------------------------------------------------------------

    async def _maybe_checkpoint(self, moved: bool) -> None:
        if self.checkpoints is None or self.lease is None or self.lost:
            return
        tick = self.game.current_tick(self.state)
        if not self.checkpointer.due(tick, moved):
            return
        payload = self.checkpointer.payload(self.state, self.roster)
        if self.countdown:
            payload["countdown"] = self.countdown
        started = time.monotonic()
        try:
            saved = await self.checkpoints.save(
                self.lease, payload, self.checkpointer.new_log(self.log)
            )
        except cluster_redis.Unavailable:
            saved = None
        if saved is False:
            logger.error("match %s: lease lost while checkpointing; stopping", self.match_id)
            self.lose_lease()
            return
        if saved is None:
            metrics.checkpoint_failed()
            # Redis unreachable, or the lease vanished with it (the supervisor takes it
            # again): the match goes on, and the next checkpoint, in a second, carries
            # the log since the last one that was stored.
            if self.checkpointer.not_stored(tick):
                logger.warning(
                    "match %s: checkpoint of tick %d not stored (Redis unreachable or the "
                    "lease gone with it); the match goes on and retries every second",
                    self.match_id,
                    tick,
                )
            return
        metrics.checkpoint_stored(time.monotonic() - started)
        if self.checkpointer.stored(tick, len(self.log)):
            logger.warning("match %s: checkpoints stored again from tick %d", self.match_id, tick)

    def take_lease(self, lease: Lease, checkpoint_lost: bool) -> None:
        """Go on under a new lease: the old one vanished while Redis was away, and the
        supervisor took it again with the next token (recorded in the database)."""
        self.lease = lease
        self.fence = lease.token
        self.transport.fence = lease.token  # sockets drop messages of lower tokens
        if checkpoint_lost:
            self.checkpointer.log_lost()
        self.checkpointer.force()  # at the next tick

    async def hand_over(self) -> None:
        """Stop here and leave the match for another process: final checkpoint first.

        The caller releases the lease afterwards, so the next process adopts at once.
        Without Redis the last checkpoint stored (at most a second old) is the one
        the next process continues from.
        """
        self.stop()
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=2.0)
        if self.task is None or self.task.done():
            await self._take_the_rest()
        if self.status == MatchStatus.ACTIVE and self.state is not None:
            self.checkpointer.force()
            await self._maybe_checkpoint(moved=False)

    async def _take_the_rest(self) -> None:
        """The operations that came after the loop's last tick, and the inputs that
        waited for a tick, in one tick more: a move made while this process drains is
        on the board the next process continues from (and its players see it before
        their sockets close), not dropped with this runner."""
        await self._handle_inbox()
        if self.status == MatchStatus.ACTIVE and self.inputs and not self.lost:
            await self._simulate()

    async def _forget_checkpoint(self) -> None:
        if self.checkpoints is None:
            return
        try:
            await self.checkpoints.delete(self.match_id)
        except cluster_redis.Unavailable:
            logger.warning(
                "match %s is over; its checkpoint stays in Redis until it expires "
                "(Redis unreachable)",
                self.match_id,
            )

    # --- The end ------------------------------------------------------------------------

    async def _abort(self, reason: str) -> None:
        self.status = MatchStatus.ABORTED
        try:
            # The service announces the abort to every socket once it is committed.
            await self.store.abort(self.match_id, reason, self.fence)
        except StaleRunner:
            self.lose_lease()
            return
        await self._forget_checkpoint()
        self.stop()

    async def _finish(self) -> None:
        outcome = self.game.outcome(self.state)
        assert outcome is not None
        abandoned = {s.seat for s in self.roster.seats.values() if s.abandoned}
        results = [
            SeatRecord(s.seat, "abandoned" if s.seat in abandoned else s.result, s.score, s.rank)
            for s in outcome.seats
        ]
        replay = ReplayData(
            seats=len(self.roster.seats),
            final_tick=self.game.current_tick(self.state),
            log=self.log,
            final_state=self.game.view(self.state, None),
        )
        self.status = MatchStatus.FINISHED
        try:
            payload = await self.store.finish(
                self.match_id, results, outcome.summary, replay, self.fence
            )
        except StaleRunner:
            self.lose_lease()
            return
        if not self.lost:
            await self.transport.broadcast_end(protocol.result(payload))
        await self._forget_checkpoint()
        self.stop()

    # --- Frames ---------------------------------------------------------------------------

    def _welcome(self, player_id: int, subprotocol: str | None) -> str:
        seat = self.roster.get(player_id)
        number = seat.seat if seat else None
        match = protocol.WelcomeMatch(
            self.match_id,
            self.info.game,
            self.status,
            self.tick_rate,
            self.info.settings,
            self.info.max_players,
        )
        you = protocol.You(player_id, number, "spectator" if seat is None else "player")
        return protocol.welcome(
            match,
            you,
            self._players(),
            subprotocol=subprotocol,
            tick=self.game.current_tick(self.state) if self.state is not None else 0,
            state=self.game.view(self.state, number) if self.state is not None else None,
            starts_in=self._starts_in(),
        )

    def _players(self) -> list[dict[str, Any]]:
        """The players list, with each away seat's grace left while the match runs."""
        grace = self.grace if self.status == MatchStatus.ACTIVE else None
        return self.roster.players(self.clock(), grace)

    def _starts_in(self) -> float | None:
        """Seconds left of the start's countdown; None when none runs."""
        return self.countdown / self.tick_rate if self.countdown else None

    async def _broadcast_players(self) -> None:
        await self._broadcast(protocol.players(self._players(), starts_in=self._starts_in()))

    async def _broadcast_state(self, events: list[Event]) -> None:
        """A state in every encoding in use; each consumer sends the one its socket speaks."""
        if self.lost:
            return
        for channels, fields in self.encoder.encode(self.state, events, self.roster):
            await self.transport.deliver(channels, "match.state", **fields)

    async def _broadcast(self, text: str) -> None:
        if not self.lost:
            await self.transport.deliver(self.roster.channels(), "match.frame", text=text)

    async def _send(self, channel: str | None, text: str) -> None:
        if channel and not self.lost:
            await self.transport.deliver([channel], "match.frame", text=text)

    async def _close(self, channel: str, code: int) -> None:
        if not self.lost:
            await self.transport.deliver([channel], "match.close", code=code)

    async def _error(self, channel: str | None, code: str, message: str, reason: str = "") -> None:
        metrics.input_refused(self.info.game, code)
        await self._send(channel, protocol.error(code, message, reason=reason))


def _first_or_tenfold(count: int) -> bool:
    """True for 1, 10, 100...: when a repeated failure is worth another log line."""
    while count % 10 == 0:
        count //= 10
    return count == 1


def _not_active(status: str) -> str:
    if status == MatchStatus.WAITING:
        return "The match has not started yet."
    return "The match is over."
