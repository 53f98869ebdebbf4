"""The match socket: authenticate, validate each frame, hand it to the runner, forward frames.

Thin by design: rules live in the engine, decisions in the runner, writes in
services. Per message the consumer does no database work and no thread hop
(see `dispatch`), and forwards the runner's frames as the same bytes.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model

from games import access, protocol, services
from games.cluster import presence, tickets
from games.engine import get_game
from games.engine.base import InvalidInput
from games.protocol import ENDED, CloseCode, ErrorCode
from games.runtime import messages
from games.runtime.match import ops
from games.runtime.match.store import DatabaseStore
from games.runtime.process import get_runtime
from games.sockets import limits
from games.sockets.base import CLOSED_ERRORS, GameSocketConsumer
from games.sockets.limits import TokenBucket

logger = logging.getLogger(__name__)

# Inputs arrive at the tick rate (20/s); the burst absorbs a backed-up client flushing.
MESSAGES_PER_SECOND = 30

MESSAGE_BURST = 60


CHAT_PER_SECOND = 1

CHAT_BURST = 5


# A socket's unsent bytes are read after every so many states (half a second of
# arena; reading the kernel's queue is a 2 us system call), so the bound is
# MAX_SOCKET_BACKLOG_BYTES plus at most this many states.
BACKLOG_CHECK_EVERY = 10


class MatchConsumer(GameSocketConsumer):
    kind = "match"
    connection: access.MatchAccess | None = None
    entry: presence.Connection | None = None  # this socket in the presence list
    over = False
    attached = False  # registered with this process's supervisor
    fence = 0  # highest runner token seen: messages of older runners are dropped

    # --- Connect and disconnect -----------------------------------------------------------

    async def connect(self) -> None:
        self.match_id = str(self.scope["url_route"]["kwargs"]["match_id"])
        self.messages = TokenBucket(MESSAGES_PER_SECOND, MESSAGE_BURST)
        self.chats = TokenBucket(CHAT_PER_SECOND, CHAT_BURST)
        self.strikes = 0
        self._watch_backlog()
        offered = list(self.scope.get("subprotocols") or [])
        try:
            self.subprotocol = protocol.choose_subprotocol(offered)
        except protocol.UnsupportedSubprotocol:
            # Echo the client's own offer so its browser completes the handshake
            # and sees the close code, instead of a bare failed connection.
            await self.accept(subprotocol=offered[0])
            await self._refuse(CloseCode.UNSUPPORTED_PROTOCOL)
            return
        self.encoding = self.subprotocol or protocol.SUBPROTOCOL_JSON
        # Ticks of states sent since the client's last acknowledgement (once it acks).
        self.acked: int | None = None
        self.unacked: deque[int] = deque()
        self.unacked_limit = settings.MAX_UNACKED_STATES
        self.sent_tick = -1  # the newest state tick sent: a client may acknowledge up to it
        # Accept first: a close before accept() reaches the client as a bare HTTP 403,
        # without the code that tells it why and whether to retry.
        await self.accept(subprotocol=self.subprotocol)
        user = await self._identify()
        if user is None:
            await self._refuse(CloseCode.NOT_AUTHENTICATED)
            return
        over_cap = self._admit(user, lobby=False)
        if over_cap is not None:
            await self._refuse(CloseCode.TOO_MANY_CONNECTIONS, over_cap)
            return
        try:
            self.connection = await database_sync_to_async(access.get_match_connection)(
                user, self.match_id
            )
        except services.MatchNotFound:
            await self._refuse(CloseCode.UNKNOWN_MATCH)
            return
        except services.PlayerBanned as exc:
            await self._refuse(CloseCode.FORBIDDEN, exc.message)
            return
        except access.NotAllowed as exc:
            await self._refuse(CloseCode.FORBIDDEN, exc.reason)
            return
        # A real-time game's inputs are superseded every tick, so they may take the
        # lossy fast path to a runner elsewhere; a turn-based move must not be lost.
        self.lossy_inputs = not get_game(self.connection.game).turn_based
        for group in (
            messages.match_group(self.match_id),
            messages.player_sockets_group(self.connection.player_id),  # a ban closes it
        ):
            self.groups.append(group)  # first: a group_add that fails half-way is still undone
            await self.channel_layer.group_add(group, self.channel_name)
        if self.connection.status in ENDED:
            await self._welcome_to_finished_match()
            return
        if get_runtime().draining:
            await self._refuse(CloseCode.RESTARTING)
            return
        supervisor = get_runtime()
        supervisor.attach(self.match_id, self)  # before joining: the welcome comes straight here
        self.attached = True
        await self._join()
        self.entry = presence.Connection(
            self.connection.player_id, self.match_id, supervisor.holder, self.channel_name
        )
        await supervisor.presence.add(self.entry)

    async def _join(self) -> None:
        assert self.connection is not None
        await self._post(
            ops.Join(
                self.connection.player_id,
                self.channel_name,
                seat=self.connection.seat,
                name=self.connection.display_name,
                subprotocol=self.subprotocol,
            )
        )

    async def _identify(self) -> Any:
        """The session's user, or the user of a valid single-use ticket in the query string."""
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            return user
        query = parse_qs(self.scope.get("query_string", b"").decode())
        ticket = (query.get("ticket") or [""])[0]
        if not ticket:
            return None
        user_id = await tickets.redeem(ticket, self.match_id)
        if user_id is None:
            return None
        return await get_user_model().objects.filter(pk=user_id, is_active=True).afirst()

    async def refuse_for_restart(self, code: int) -> None:
        """Called by the supervisor's drain: this process is going away; reconnect elsewhere."""
        self.over = True  # nothing more to tell the runner; it has moved on
        await self._refuse(code)

    async def _welcome_to_finished_match(self) -> None:
        """The one welcome, as a runner sends it, with the stored result and no state."""
        assert self.connection is not None
        self.over = True
        store = DatabaseStore()
        info = await store.load(self.match_id)
        result = await store.result(self.match_id)
        game = get_game(self.connection.game)
        settings = info.settings if info is not None else {}
        match = protocol.WelcomeMatch(
            self.match_id,
            self.connection.game,
            self.connection.status,
            int(settings.get("tick_rate", game.tick_rate)),
            settings,
            info.max_players if info is not None else game.max_players,
        )
        seat = self.connection.seat
        you = protocol.You(
            self.connection.player_id, seat, "player" if seat is not None else "spectator"
        )
        welcome = protocol.welcome(
            match, you, [], subprotocol=self.subprotocol, tick=0, state=None, result=result
        )
        await self.send(text_data=welcome)

    async def disconnect(self, code: int) -> None:
        """Called once by `_end`: out of presence and the supervisor; the runner hears `leave`."""
        supervisor = get_runtime()
        if self.entry is not None:
            self._forget_presence(self.entry)
        if self.attached:
            self.attached = False
            # Nothing to tell a runner after the result, or while this process hands over.
            quiet = self.over or supervisor.draining
            assert self.connection is not None
            leave = ops.Leave(self.connection.player_id, self.channel_name)
            sending = supervisor.detach(self.match_id, self, leave=None if quiet else leave)
            if sending is not None:
                self._remove_later(f"the leave of {self.channel_name} to its runner", sending)

    # --- Frames from the client -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.connection is None:
            return
        if not self.messages.allow():
            await self._strike(ErrorCode.RATE_LIMITED, "Too many messages; slow down.")
            return
        try:
            message = protocol.decode(text_data if text_data is not None else bytes_data or b"")
        except protocol.ProtocolError as exc:
            await self._strike(exc.code, exc.message)
            return
        if isinstance(message, protocol.Ping):
            await self.send(text_data=protocol.pong(message))
        elif isinstance(message, protocol.Input):
            if message.ack is not None and not self._acknowledge(message.ack):
                await self._refuse_acknowledgement(message.ack)
                return
            await self._input(message)
        elif isinstance(message, protocol.Ack):
            if not self._acknowledge(message.tick):
                await self._refuse_acknowledgement(message.tick)
        elif isinstance(message, protocol.Chat):
            await self._chat(message)
        elif isinstance(message, protocol.Ready):
            await self._ready()
        elif isinstance(message, protocol.Resync):
            self._forget_acknowledgements()  # the client starts over from a full state
            await self._post(ops.Resync(self.connection.player_id, self.channel_name))

    def _acknowledge(self, tick: int) -> bool:
        """The client has the state of `tick`: deltas may start from it (it is the newest).

        False, and nothing changes, for a tick this socket was never sent: an ack
        from the future would lift MAX_UNACKED_STATES for a client that reads nothing.
        """
        if tick > self.sent_tick:
            return False
        if self.acked is None or tick > self.acked:
            self.acked = tick
        while self.unacked and self.unacked[0] <= tick:
            self.unacked.popleft()
        return True

    async def _refuse_acknowledgement(self, tick: int) -> None:
        sent = "no state yet" if self.sent_tick < 0 else f"states up to tick {self.sent_tick}"
        await self._strike(
            ErrorCode.INVALID, f"Invalid message: tick {tick} was never sent; you have {sent}."
        )

    def _forget_acknowledgements(self) -> None:
        self.acked = None
        self.unacked.clear()

    async def _input(self, message: protocol.Input) -> None:
        assert self.connection is not None
        if self.connection.seat is None:
            await self._error(ErrorCode.SPECTATOR, "Spectators cannot send inputs.")
        elif self.over:
            await self._error(ErrorCode.NOT_ACTIVE, "The match is over.")
        else:
            try:
                data = self._game_input(message.data)
            except InvalidInput as exc:
                await self._strike(ErrorCode.INVALID, exc.reason)
                return
            op = ops.Input(self.connection.player_id, self.channel_name, data, message.ack)
            await self._post(op, lossy=self.lossy_inputs)

    async def _ready(self) -> None:
        assert self.connection is not None
        if self.connection.seat is None:
            await self._error(
                ErrorCode.INVALID,
                "Only seated players can be ready: you are watching this match.",
            )
            return
        await self._post(ops.Ready(self.connection.player_id, self.channel_name))

    def _game_input(self, raw: Any) -> Any:
        """Only what fits the game's input schema goes on: the runner applies and logs it.

        The game's parsed Input itself: a runner here takes it as it is, and one
        elsewhere gets it as `dump_input` writes it (`ops.to_wire`) and checks it again.
        """
        assert self.connection is not None
        return get_game(self.connection.game).parse_input(raw)

    async def _chat(self, message: protocol.Chat) -> None:
        assert self.connection is not None
        text = message.text.strip()
        if not text or len(text) > protocol.MAX_CHAT_CHARS:
            await self._error(
                ErrorCode.CHAT_LIMIT,
                f"Chat messages are 1 to {protocol.MAX_CHAT_CHARS} characters.",
            )
            return
        if not self.chats.allow():
            await self._error(ErrorCode.CHAT_LIMIT, "You are chatting too fast.")
            return
        try:
            # Kept for moderation (reports carry the match's chat); a muted player's
            # line is neither kept nor heard. One ORM call a line, at most 1 a second.
            await database_sync_to_async(services.record_chat)(
                self.match_id, self.connection.player_id, text
            )
        except services.PlayerMuted as exc:
            await self._error(ErrorCode.MUTED, exc.message)
            return
        if not self.over:
            # Through the runner, like everything else players hear.
            op = ops.Chat(
                self.connection.player_id, self.channel_name, self.connection.display_name, text
            )
            await self._post(op)
            return
        # Once the match is over its runner is gone; its group still reaches everyone
        # still on the page (players say "gg" after the result).
        frame = protocol.chat(
            self.connection.player_id, self.connection.display_name, self.connection.seat, text
        )
        await self.channel_layer.group_send(
            messages.match_group(self.match_id), {"type": "match.frame", "text": frame}
        )

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=protocol.error(code, message))

    async def _post(self, op: ops.Operation, *, lossy: bool = False) -> None:
        await get_runtime().post(self.match_id, op, lossy=lossy)

    # --- Events from the runner and services -------------------------------------------------

    def _from_current_runner(self, event: dict[str, Any]) -> bool:
        """False for a message of a runner older than one already heard (it lost its lease)."""
        fence = event.get("fence")
        if fence is None:
            return True  # single-process mode, or an announcement from a service
        if fence < self.fence:
            return False
        self.fence = fence
        return True

    async def match_frame(self, event: dict[str, Any]) -> None:
        """An encoded frame from the runner: forward the same text."""
        if self._from_current_runner(event):
            await self.send(text_data=event["text"])

    async def match_state(self, event: dict[str, Any]) -> None:
        """A state from the runner, in each encoding in use: send the one this socket speaks.

        Never queues without bound for a slow reader: a client that acknowledges
        states but is MAX_UNACKED_STATES behind gets none until it catches up
        (states are complete or deltas from what it has, so skipping loses nothing).
        """
        if self.closing or not self._from_current_runner(event):
            return
        if self.acked is not None and len(self.unacked) >= self.unacked_limit:
            return
        # The ASGI message goes straight to the server, not through `_send_to_server`
        # (closing was checked above): this runs once per socket and tick, and the
        # consumer's send helpers only rebuild the same dict.
        if self.encoding == protocol.SUBPROTOCOL_COMPACT and "compact" in event:
            delta = next((d for base, d in event["deltas"] if base == self.acked), None)
            message = {"type": "websocket.send", "bytes": delta or event["compact"]}
        elif "bytes" in event and self.encoding != protocol.SUBPROTOCOL_JSON:
            message = {"type": "websocket.send", "bytes": event["bytes"]}
        else:
            message = {"type": "websocket.send", "text": event["text"]}
        try:
            await self.server_send(message)
        except CLOSED_ERRORS:
            self.closing = True  # the client closed first: nothing more to send
            return
        if event["tick"] > self.sent_tick:
            self.sent_tick = event["tick"]
        if self.acked is not None:
            self.unacked.append(event["tick"])
        self.states_sent += 1
        # Every BACKLOG_CHECK_EVERY states: reading the kernel's queue is a system call.
        if (
            self.backlog is not None
            and not self.states_sent % BACKLOG_CHECK_EVERY
            and self.backlog() > self.backlog_limit
        ):
            await self._drop_slow_reader()

    async def _drop_slow_reader(self) -> None:
        """More is queued for this client than MAX_SOCKET_BACKLOG_BYTES: close it, 4011.

        The close frame waits behind the backlog, which is bounded; the connection
        is dropped if the client has not answered it within SLOW_READER_CLOSE_SECONDS.
        """
        assert self.backlog is not None and self.connection is not None
        logger.warning(
            "closing a slow reader (%s): %d bytes unsent in match %s for player %s",
            CloseCode.TOO_SLOW,
            self.backlog(),
            self.match_id,
            self.connection.player_id,
        )
        limits.allow_close_time(self.server_send, limits.SLOW_READER_CLOSE_SECONDS)
        await self._refuse(CloseCode.TOO_SLOW)

    async def match_over(self, event: dict[str, Any]) -> None:
        """The match's result, or its abort: forward it, and refuse inputs from now on."""
        if self._from_current_runner(event):
            self.over = True
            await self.send(text_data=event["text"])

    async def match_rejoin(self, event: dict[str, Any]) -> None:
        """The match moved to another process's runner: join it, to get a fresh welcome."""
        if self._from_current_runner(event) and self.connection is not None and not self.over:
            self._forget_acknowledgements()  # the new runner starts with full states
            await self._join()

    async def match_close(self, event: dict[str, Any]) -> None:
        if self._from_current_runner(event):
            await self._refuse(event["code"])
