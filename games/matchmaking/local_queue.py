"""The queue in this process's memory, without REDIS_URL: the same states as in Redis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from games.matchmaking.rules import ANCHORS_PER_TAKE, GROUPS_PER_TAKE, Entry, GroupRules, Renewal


@dataclass
class _QueueEntryState:
    entry: Entry
    state: str  # "q", "t" or "x", as in Redis
    stamp: float
    expires: float


class LocalQueue:
    """The same queue in this process's memory, for single-process mode (no Redis).

    No method awaits before it is done, so each step is atomic on the event loop.
    """

    def __init__(self) -> None:
        self.slots: dict[int, _QueueEntryState] = {}
        self.finished: dict[str, float] = {}  # the markers finish leaves: token -> expiry

    async def join(self, entry: Entry, now: float, ttl: float, claim: float) -> str:
        old = self.slots.get(entry.player_id)
        if old is not None and old.state != "q" and old.stamp > now - claim:
            return "matching"
        self.finished.pop(entry.token, None)
        self.slots[entry.player_id] = _QueueEntryState(entry, "q", now, now + ttl)
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

    async def claim(self, entries: Sequence[Entry], now: float) -> list[Entry]:
        claimed = []
        for entry in entries:
            slot = self.slots.get(entry.player_id)
            if slot is not None and slot.entry == entry and slot.state == "q":
                slot.state, slot.stamp = "t", now
                claimed.append(entry)
        return claimed

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

    async def queued(self, game: str, limit: int | None = None) -> list[Entry]:
        return self._waiting(game)[:limit]
