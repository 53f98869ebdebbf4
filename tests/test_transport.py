"""Frames from a runner to the sockets of other processes, over a real Redis layer."""

import asyncio
import uuid

from channels_redis.core import RedisChannelLayer

from games.runtime.fanout import FanoutTransport, LocalSockets


async def test_a_process_with_a_full_queue_misses_frames_without_stopping_the_runner(
    redis_url, redis_prefix
):
    # Two other processes; the first stopped reading and its queue (one list for all
    # its sockets in channels-redis) is full. The runner must keep reaching the second.
    layer = RedisChannelLayer(
        hosts=[{"address": redis_url, "socket_timeout": 10}],
        prefix=redis_prefix,
        channel_capacity={"specific.*": 2},
    )
    stuck = [await layer.new_channel() for _ in range(2)]
    other = RedisChannelLayer(
        hosts=[{"address": redis_url, "socket_timeout": 10}],
        prefix=redis_prefix,
        channel_capacity={"specific.*": 2},
    )
    reading = await other.new_channel()
    transport = FanoutTransport(layer, None, LocalSockets(), uuid.uuid4(), fence=7)

    for n in range(3):
        await transport.deliver([*stuck, reading], "match.frame", text=f"players {n}")
        assert (await other.receive(reading))["text"] == f"players {n}"

    assert [(await layer.receive(name))["text"] for name in stuck] == ["players 0", "players 0"]
    await layer.flush()


async def test_a_socket_that_fails_in_the_fan_out_is_closed_once_and_the_others_still_served(
    caplog,
):
    # A bug serving one socket must neither stop the others' states nor log every tick.
    class Socket:
        def __init__(self, name: str, broken: bool) -> None:
            self.channel_name, self.broken = name, broken
            self.got: list[int] = []
            self.abandoned = 0

        async def match_state(self, event):
            if self.broken:
                raise RuntimeError("a bug")
            self.got.append(event["tick"])

        async def abandon(self):
            self.abandoned += 1

    local = LocalSockets()
    broken, healthy = Socket("p!a", broken=True), Socket("p!b", broken=False)
    local.add(broken)
    local.add(healthy)
    for tick in (1, 2, 3):
        await local.deliver(["p!a", "p!b"], {"type": "match.state", "tick": tick})
    await asyncio.wait(set(local._closing))  # the close was started, not awaited
    assert healthy.got == [1, 2, 3]
    assert broken.abandoned == 1
    assert "p!a" not in local.by_channel
    assert sum("could not deliver" in r.getMessage() for r in caplog.records) == 1
    assert not local._closing  # finished closes are not held


async def test_an_event_without_a_valid_type_is_dropped_and_no_socket_is_closed(caplog):
    # The fan-out hands events published by other processes: a malformed one is logged
    # and dropped before any socket is called (and none is closed for it).
    class Socket:
        channel_name = "p!a"
        abandoned = 0

        async def abandon(self):
            self.abandoned += 1

    local = LocalSockets()
    socket = Socket()
    local.add(socket)
    for event in ({"tick": 1}, {"type": "_end", "tick": 1}, {"type": 7}):
        await local.deliver(["p!a"], event)
    assert socket.abandoned == 0 and "p!a" in local.by_channel
    assert sum("without a valid type" in r.getMessage() for r in caplog.records) == 3
