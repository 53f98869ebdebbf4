"""Frames from a runner to the sockets of other processes, over a real Redis layer."""

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
