"""One authority per match: the engine state, the fixed-rate loop, inputs, presence, the end.

A runner lives in a daphne process under the process's MatchSupervisor, never
inside a player's consumer, so the match does not depend on which socket
hosts it. Consumers post operations to it (directly in the same process, over
the runner's channel from other processes); it answers with frames encoded
once and sent through its transport.

Order of checks for an input (the engine validates last): the sender holds a
seat, the match is active, the seat is still in play, then the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from games import protocol
from games.cluster import redis as cluster_redis
from games.cluster.leases import Lease
from games.engine import get_game
from games.engine.base import Event, Game, IllegalInput, InvalidInput
from games.runtime import metrics
from games.runtime.match.ports import Checkpoints, MatchInfo, Restored, SeatRow, Store, Transport
from games.runtime.match.schedule import TickSchedule
from games.services.errors import NotReady, StaleRunner
from games.services.results import ReplayData, SeatResult

logger = logging.getLogger(__name__)

# A waiting match with nobody connected stops its runner after this long (it stays in the lobby).
IDLE_STOP_SECONDS = 30.0
# Compact states kept as bases for deltas: a client acknowledging an older one gets full states.
DELTA_HISTORY_TICKS = 64
# Before the start, a seat whose player is not connected for this long is given up, so
# a reserved but empty seat cannot hold a match back (a page reload is much quicker).
WAITING_SEAT_SECONDS = 10.0
# A game whose tick raises this many times in a row is broken: the match is aborted
# (unrated) instead of retried for ever, or re-adopted into the same crash.
MAX_FAILED_TICKS = 3
BROKEN_REASON = "the game stopped working because of an error on the server"


@dataclass
class Slot:
    """A seated player as the runner sees them."""

    seat: int
    player_id: int
    name: str
    channel: str | None = None
    ready: bool = False
    disconnected_at: float | None = None
    abandoned: bool = False
    acked: int | None = None  # the newest state tick its client acknowledged

    def json(self) -> dict[str, Any]:
        return {
            "seat": self.seat,
            "player_id": self.player_id,
            "name": self.name,
            "connected": self.channel is not None,
            "ready": self.ready,
            "abandoned": self.abandoned,
        }


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
        clock: Callable[[], float] = time.monotonic,
        on_stop: Callable[[MatchRunner], None] | None = None,
    ) -> None:
        self.info = info
        self.match_id = info.id
        self.game: Game[Any] = get_game(info.game)
        self.tick_rate = int(info.settings.get("tick_rate", self.game.tick_rate))
        self.transport = transport
        self.store = store
        self.lease = lease
        self.fence = lease.token if lease else None
        self.grace = self.game.reconnect_grace_seconds if grace_seconds is None else grace_seconds
        self.clock = clock
        self.on_stop = on_stop
        self.status = info.status
        self.slots: dict[int, Slot] = {
            s.player_id: Slot(s.seat, s.player_id, s.name) for s in info.seats
        }
        self.spectators: set[str] = set()
        # Each known socket's subprotocol: states are encoded only in the ones in use.
        self.encodings: dict[str, str] = {}
        self.state: Any = None
        self.inbox: list[dict[str, Any]] = []
        self.pending: dict[int, tuple[Any, str | None]] = {}  # seat -> (game Input, channel)
        self.log: list[list[Any]] = []
        self.lost = False
        self.task: asyncio.Task[None] | None = None
        self._stopping = False
        self._start_attempted_for: frozenset[int] | None = None
        self._idle_since: float | None = self.clock()
        self._last_broadcast_tick = -1
        self._compact_history: dict[int, Any] = {}  # tick -> the game's compact snapshot
        self.checkpoints = checkpoints
        self._saved_log = 0
        self._last_checkpoint_tick = 0
        self._adopted = restored is not None
        self._checkpoints_failing = False  # Redis was unreachable at the last checkpoint
        self._failed_ticks = 0  # the game's tick raised in this many ticks in a row
        self._failed_steps = 0  # the runner's step raised in this many ticks in a row
        self._failed_inputs = 0  # inputs the game raised on (each was dropped)
        self._tick_errors = 0  # ticks the game raised in, in all
        if restored is not None:
            self._adopt(*restored)

    def _adopt(self, payload: dict[str, Any], log: list[list[Any]]) -> None:
        """Continue from the checkpoint of a process that died; everyone gets the grace period."""
        now = self.clock()
        self.state = self.game.restore(payload["state"])
        self.status = "active"
        self.log = log
        self._saved_log = len(log)
        self._last_checkpoint_tick = self.game.current_tick(self.state)
        self.slots = {
            s["player_id"]: Slot(
                s["seat"], s["player_id"], s["name"], disconnected_at=now, abandoned=s["abandoned"]
            )
            for s in payload["slots"]
        }

    # --- Life ---------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"runner {self.match_id}"
        )

    def post(self, message: dict[str, Any]) -> None:
        """Queue an operation from a consumer; handled at the next tick."""
        self.inbox.append(message)

    def stop(self) -> None:
        self._stopping = True

    def lose_lease(self) -> None:
        """Another process may run this match now: stop without writing or sending anything."""
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
            if delay > 0:
                await asyncio.sleep(delay)
            await self._guarded_step()

    async def _guarded_step(self) -> None:
        """One step; an exception ends only this tick, so the match goes on at the next.

        The game's own faults are handled closer (inputs, ticks); this catches the
        rest. Logged with its traceback once per run of failures, not once per tick.
        """
        try:
            await self._step()
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

    async def _step(self) -> None:
        if self._adopted:
            # Sockets on other processes were talking to the dead runner: ask them to join again.
            self._adopted = False
            logger.warning("adopted match %s at tick %s", self.match_id, self._last_checkpoint_tick)
            await self.transport.request_rejoin()
        await self._handle_inbox()
        if self._stopping:
            return
        if self.status == "waiting":
            await self._release_empty_seats()
            await self._maybe_start()
            self._maybe_idle_stop()
        elif self.status == "active":
            await self._simulate()

    # --- Operations from consumers ----------------------------------------------------

    async def _handle_inbox(self) -> None:
        inbox, self.inbox = self.inbox, []
        for message in inbox:
            # Operations come from other processes too: one that cannot be handled is
            # dropped on its own, never with the rest of the inbox or the runner.
            try:
                await self._handle(message)
            except Exception:
                metrics.RUNNER_ERRORS.labels(self.info.game, "inbox").inc()
                logger.exception(
                    "match %s: dropped an operation it could not handle: %.200r",
                    self.match_id,
                    message,
                )

    async def _handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "join":
            await self._join(message)
        elif op == "leave":
            await self._leave(message)
        elif op == "ready":
            await self._ready(message)
        elif op == "input":
            await self._queue_input(message)
        elif op == "resync":
            await self._send(message["channel"], self._welcome(message))
        elif op == "aborted":
            self.stop()

    async def _join(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        self.encodings[channel] = message.get("subprotocol") or protocol.SUBPROTOCOL_JSON
        slot = self.slots.get(message["player_id"])
        if slot is None and self.status == "waiting" and message.get("seat") is not None:
            # Seated through the lobby after this runner loaded the match.
            slot = Slot(message["seat"], message["player_id"], message["name"])
            self.slots[slot.player_id] = slot
        if slot is None:
            self.spectators.add(channel)
        else:
            if slot.channel and slot.channel != channel:
                await self._close(slot.channel, protocol.CloseCode.SUPERSEDED)
            slot.channel, slot.disconnected_at, slot.acked = channel, None, None
        self._idle_since = None
        await self._send(channel, self._welcome(message))
        await self._broadcast_players()

    async def _leave(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        self.spectators.discard(channel)
        self.encodings.pop(channel, None)
        slot = self.slots.get(message["player_id"])
        if slot is None or slot.channel != channel:
            return  # a spectator, or a socket that was already superseded
        slot.channel = None
        slot.ready = False
        slot.disconnected_at = self.clock()
        if not self._anyone_connected():
            self._idle_since = self.clock()
        await self._broadcast_players()

    async def _ready(self, message: dict[str, Any]) -> None:
        slot = self.slots.get(message["player_id"])
        if slot is not None and self.status == "waiting" and not slot.ready:
            slot.ready = True
            await self._broadcast_players()

    async def _queue_input(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        slot = self.slots.get(message["player_id"])
        if slot is None:
            await self._error(channel, protocol.ErrorCode.SPECTATOR, "Spectators cannot play.")
        elif self.status != "active":
            await self._error(channel, protocol.ErrorCode.NOT_ACTIVE, _not_active(self.status))
        elif slot.abandoned:
            await self._error(channel, protocol.ErrorCode.NOT_ACTIVE, "You left this match.")
        else:
            try:
                data = self._checked_input(message["data"])
            except InvalidInput as exc:
                await self._error(channel, protocol.ErrorCode.INVALID, exc.reason)
                return
            # The newest input of a seat within one tick wins; older ones are superseded.
            self.pending[slot.seat] = (data, channel)
            ack = message.get("ack")
            if isinstance(ack, int) and not isinstance(ack, bool):
                slot.acked = ack

    def _checked_input(self, raw: Any) -> Any:
        """The game's Input for `raw`, checked again here: a socket of another process
        (another release, say) validated it, and what is applied is logged and checkpointed.

        Raises InvalidInput if it does not fit the schema, or would not encode.
        """
        data = self.game.parse_input(raw)
        try:
            msgspec.msgpack.encode(self.game.dump_input(data))
        except (TypeError, ValueError, OverflowError) as exc:  # a schema check missed it
            raise InvalidInput("data", "This input cannot be stored.") from exc
        return data

    # --- Waiting ------------------------------------------------------------------------

    async def _maybe_start(self) -> None:
        ready = frozenset(s.player_id for s in self.slots.values() if s.ready and s.channel)
        if len(ready) < self.game.min_players or len(ready) < len(self.slots):
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
        await self._broadcast_players()
        await self._broadcast_state([Event("started", {"seats": len(seats)})])

    async def _release_empty_seats(self) -> None:
        now = self.clock()
        gone = [
            slot
            for slot in self.slots.values()
            if slot.channel is None
            and slot.disconnected_at is not None
            and now - slot.disconnected_at >= min(self.grace, WAITING_SEAT_SECONDS)
        ]
        for slot in gone:
            del self.slots[slot.player_id]
            await self.store.leave(self.match_id, slot.player_id)
        if gone:
            self._start_attempted_for = None
            await self._broadcast_players()

    def _begin(self, seats: list[SeatRow]) -> None:
        previous = self.slots
        self.slots = {}
        for row in seats:
            old = previous.get(row.player_id)
            slot = Slot(row.seat, row.player_id, row.name)
            if old is not None:
                slot.channel, slot.ready = old.channel, old.ready
            self.slots[row.player_id] = slot
        self.state = self.game.initial_state(self.info.settings, len(seats), self.info.seed)
        self.status = "active"

    def _maybe_idle_stop(self) -> None:
        if self._idle_since is not None and self.clock() - self._idle_since > IDLE_STOP_SECONDS:
            self.stop()

    # --- Active -----------------------------------------------------------------------------

    async def _simulate(self) -> None:
        expired = self._expired_slots()
        if expired and not any(s.channel for s in self.slots.values()):
            # Nobody seated is left to play: no one should win by default.
            await self._abort("every player left")
            return
        events: list[Event] = []
        pending, self.pending = self.pending, {}
        tick = self.game.current_tick(self.state)
        for seat, (data, channel) in sorted(pending.items()):
            events += await self._apply(seat, data, channel, tick)
        events += self._abandon(expired, tick)
        if self.game.outcome(self.state) is None:
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
        if changed or self._due_for_heartbeat():
            await self._broadcast_state(events)
        if over:
            await self._finish()

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

    async def _maybe_checkpoint(self, moved: bool) -> None:
        if self.checkpoints is None or self.lease is None or self.lost:
            return
        tick = self.game.current_tick(self.state)
        due = tick - self._last_checkpoint_tick >= self.tick_rate  # at least once a second
        if not due and not (self.game.turn_based and moved):
            return
        payload = {
            "tick": tick,
            "state": self.game.checkpoint(self.state),
            "slots": [
                {"seat": s.seat, "player_id": s.player_id, "name": s.name, "abandoned": s.abandoned}
                for s in self.slots.values()
            ],
        }
        new_log = self.log[self._saved_log :]
        try:
            saved = await self.checkpoints.save(self.lease, payload, new_log)
        except cluster_redis.Unavailable:
            saved = None
        if saved is False:
            logger.error("match %s: lease lost while checkpointing; stopping", self.match_id)
            self.lose_lease()
            return
        if saved is None:
            # Redis unreachable, or the lease vanished with it (the supervisor takes it
            # again): the match goes on, and the next checkpoint, in a second, carries
            # the log since the last one that was stored.
            self._last_checkpoint_tick = tick
            if not self._checkpoints_failing:
                self._checkpoints_failing = True
                logger.warning(
                    "match %s: checkpoint of tick %d not stored (Redis unreachable or the "
                    "lease gone with it); the match goes on and retries every second",
                    self.match_id,
                    tick,
                )
            return
        if self._checkpoints_failing:
            self._checkpoints_failing = False
            logger.warning("match %s: checkpoints stored again from tick %d", self.match_id, tick)
        self._saved_log = len(self.log)
        self._last_checkpoint_tick = tick

    def take_lease(self, lease: Lease, checkpoint_lost: bool) -> None:
        """Go on under a new lease: the old one vanished while Redis was away, and the
        supervisor took it again with the next token (recorded in the database)."""
        self.lease = lease
        self.fence = lease.token
        self.transport.fence = lease.token  # sockets drop messages of lower tokens
        if checkpoint_lost:
            self._saved_log = 0  # Redis lost the log too: the next checkpoint carries it whole
        self._last_checkpoint_tick = -self.tick_rate  # and comes at the next tick

    async def hand_over(self) -> None:
        """Stop here and leave the match for another process: final checkpoint first.

        The caller releases the lease afterwards, so the next process adopts at once.
        Without Redis the last checkpoint stored (at most a second old) is the one
        the next process continues from.
        """
        self.stop()
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=2.0)
        if self.status == "active" and self.state is not None:
            self._last_checkpoint_tick = -self.tick_rate  # force a checkpoint now
            await self._maybe_checkpoint(moved=False)

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

    def _expired_slots(self) -> list[Slot]:
        """Seats whose player has been gone longer than the reconnection grace period."""
        now = self.clock()
        return [
            slot
            for slot in self.slots.values()
            if not slot.abandoned
            and slot.channel is None
            and slot.disconnected_at is not None
            and now - slot.disconnected_at >= self.grace
        ]

    def _abandon(self, expired: list[Slot], tick: int) -> list[Event]:
        events: list[Event] = []
        for slot in expired:
            slot.abandoned = True
            events += self.game.remove_seat(self.state, slot.seat)
            self.log.append([tick, slot.seat, None])
        return events

    async def _abort(self, reason: str) -> None:
        self.status = "aborted"
        try:
            # The service announces the abort to every socket once it is committed.
            await self.store.abort(self.match_id, reason, self.fence)
        except StaleRunner:
            self.lose_lease()
            return
        await self._forget_checkpoint()
        self.stop()

    def _due_for_heartbeat(self) -> bool:
        # Real-time games send every tick anyway; turn-based ones at least once a second.
        tick = self.game.current_tick(self.state)
        return tick - self._last_broadcast_tick >= self.tick_rate

    async def _finish(self) -> None:
        outcome = self.game.outcome(self.state)
        assert outcome is not None
        abandoned = {s.seat for s in self.slots.values() if s.abandoned}
        results = [
            SeatResult(s.seat, "abandoned" if s.seat in abandoned else s.result, s.score, s.rank)
            for s in outcome.seats
        ]
        replay = ReplayData(
            seats=len(self.slots),
            final_tick=self.game.current_tick(self.state),
            log=self.log,
            final_state=self.game.view(self.state, None),
        )
        self.status = "finished"
        try:
            payload = await self.store.finish(
                self.match_id, results, outcome.summary, replay, self.fence
            )
        except StaleRunner:
            self.lose_lease()
            return
        if not self.lost:
            await self.transport.broadcast_end(protocol.encode({"type": "result", **payload}))
        await self._forget_checkpoint()
        self.stop()

    # --- Frames ---------------------------------------------------------------------------

    def _welcome(self, message: dict[str, Any]) -> str:
        slot = self.slots.get(message["player_id"])
        seat = slot.seat if slot else None
        return protocol.encode(
            {
                "type": "welcome",
                "protocol": protocol.PROTOCOL_VERSION,
                "match": {
                    "id": self.match_id,
                    "game": self.info.game,
                    "status": self.status,
                    "tick_rate": self.tick_rate,
                    "settings": self.info.settings,
                    "max_players": self.info.max_players,
                },
                "subprotocol": message.get("subprotocol") or protocol.SUBPROTOCOL_JSON,
                "you": {
                    "player_id": message["player_id"],
                    "seat": seat,
                    "role": "spectator" if slot is None else "player",
                },
                "players": self._players_json(),
                "tick": self.game.current_tick(self.state) if self.state is not None else 0,
                "state": self.game.view(self.state, seat) if self.state is not None else None,
                "server_time": protocol.server_time_ms(),
            }
        )

    def _players_json(self) -> list[dict[str, Any]]:
        return [s.json() for s in sorted(self.slots.values(), key=lambda s: s.seat)]

    async def _broadcast_players(self) -> None:
        await self._broadcast(protocol.encode({"type": "players", "players": self._players_json()}))

    async def _broadcast_state(self, events: list[Event]) -> None:
        tick = self.game.current_tick(self.state)
        previous, self._last_broadcast_tick = self._last_broadcast_tick, tick
        event_list = [{"kind": e.kind, **e.data} for e in events]

        def variants(seat: int | None, channels: Iterable[str]) -> dict[str, Any]:
            needs = {self.encodings.get(c, protocol.SUBPROTOCOL_JSON) for c in channels}
            view = self.game.view(self.state, seat)
            frame = {"type": "state", "tick": tick, "state": view, "events": event_list}
            fields: dict[str, Any] = {"tick": tick}
            if protocol.SUBPROTOCOL_JSON in needs:
                fields["text"] = protocol.encode(frame)
            binary = needs - {protocol.SUBPROTOCOL_JSON}
            if protocol.SUBPROTOCOL_COMPACT in binary and self._compact_states():
                fields.update(self._compact(tick, view, event_list, previous))
                binary.discard(protocol.SUBPROTOCOL_COMPACT)
            if binary:  # msgpack, which compact sockets also get in games without compact states
                fields["bytes"] = protocol.encode_binary(frame)
            return fields

        if self.lost:
            return
        if not self.game.hidden_information:
            channels = self._channels()
            await self._deliver_state(channels, variants(None, channels))  # once for everyone
            return
        # One encoding per seat, sent to that seat's one socket; spectators share theirs.
        for slot in self.slots.values():
            if slot.channel:
                await self._deliver_state([slot.channel], variants(slot.seat, [slot.channel]))
        if self.spectators:
            await self._deliver_state(self.spectators, variants(None, self.spectators))

    def _compact_states(self) -> bool:
        return self.game.compact is not None and not self.game.hidden_information

    def _compact(
        self, tick: int, view: dict[str, Any], events: list[Any], previous: int
    ) -> dict[str, Any]:
        """The compact full frame, and deltas from the states the clients acknowledged.

        One delta per distinct base, not per socket: the bases are the seats'
        acknowledged ticks and the previous state (where a client on a fast link is).
        """
        codec = self.game.compact
        assert codec is not None
        snapshot = codec.snapshot(view)
        bases = {s.acked for s in self.slots.values() if s.acked is not None} | {previous}
        deltas = []
        for base in sorted(bases):
            if base in self._compact_history:
                with contextlib.suppress(ValueError):  # too old for a delta: full frames then
                    deltas.append(
                        [base, codec.encode(snapshot, events, self._compact_history[base])]
                    )
        self._compact_history[tick] = snapshot
        while len(self._compact_history) > DELTA_HISTORY_TICKS:
            del self._compact_history[next(iter(self._compact_history))]
        return {"compact": codec.encode(snapshot, events), "deltas": deltas}

    async def _deliver_state(self, channels: Iterable[str], fields: dict[str, Any]) -> None:
        """A state in every encoding; each consumer sends the one its socket negotiated."""
        await self.transport.deliver(channels, "match.state", **fields)

    async def _broadcast(self, text: str) -> None:
        if not self.lost:
            await self.transport.deliver(self._channels(), "match.frame", text=text)

    async def _send(self, channel: str | None, text: str) -> None:
        if channel and not self.lost:
            await self.transport.deliver([channel], "match.frame", text=text)

    async def _close(self, channel: str, code: int) -> None:
        if not self.lost:
            await self.transport.deliver([channel], "match.close", code=code)

    async def _error(self, channel: str | None, code: str, message: str, reason: str = "") -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if reason:
            frame["reason"] = reason
        await self._send(channel, protocol.encode(frame))

    def _channels(self) -> list[str]:
        """Every socket the runner knows: connected players, then spectators."""
        return [s.channel for s in self.slots.values() if s.channel] + list(self.spectators)

    def _anyone_connected(self) -> bool:
        return bool(self.spectators) or any(s.channel for s in self.slots.values())


def _first_or_tenfold(count: int) -> bool:
    """True for 1, 10, 100...: when a repeated failure is worth another log line."""
    while count % 10 == 0:
        count //= 10
    return count == 1


def _not_active(status: str) -> str:
    if status == "waiting":
        return "The match has not started yet."
    return "The match is over."
