"""How a runner reaches sockets: the channel layer, with frames encoded once by the runner.

Every message carries the runner's fencing token. Consumers remember the
highest token they have seen for their match and drop messages with a lower
one, so a runner that lost its lease (paused, partitioned) cannot reach a
socket after its successor has.
"""

from __future__ import annotations

from typing import Any

from channels.layers import BaseChannelLayer

from games import events


class ChannelLayerTransport:
    """Sends already-encoded frames; consumers forward them without decoding."""

    def __init__(self, layer: BaseChannelLayer, match_id: Any, fence: int | None = None) -> None:
        self.layer = layer
        self.group = events.match_group(match_id)
        self.spectators = events.spectator_group(match_id)
        self.fence = fence

    async def broadcast(self, text: str) -> None:
        await self.layer.group_send(self.group, self._message("match.frame", text=text))

    async def broadcast_end(self, text: str) -> None:
        """The last frame of a match (its result): sockets refuse inputs after it."""
        await self.layer.group_send(self.group, self._message("match.over", text=text))

    async def broadcast_state(
        self, text: str, data: bytes, *, spectators_only: bool = False
    ) -> None:
        """A state in both encodings; each consumer sends the one its socket negotiated."""
        group = self.spectators if spectators_only else self.group
        await self.layer.group_send(group, self._message("match.state", text=text, bytes=data))

    async def send_state(self, channel: str, text: str, data: bytes) -> None:
        await self.layer.send(channel, self._message("match.state", text=text, bytes=data))

    async def request_rejoin(self) -> None:
        """Ask every socket of the match to join again (after a runner moved process)."""
        await self.layer.group_send(self.group, self._message("match.rejoin"))

    async def send(self, channel: str, text: str) -> None:
        await self.layer.send(channel, self._message("match.frame", text=text))

    async def close(self, channel: str, code: int) -> None:
        await self.layer.send(channel, self._message("match.close", code=code))

    def _message(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "fence": self.fence, **fields}
