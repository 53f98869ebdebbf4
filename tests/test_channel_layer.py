"""The channel layer the settings build from REDIS_URL works on a real Redis.

Runs in a fresh process so the settings read this test's REDIS_URL and key
prefix, exactly as a daphne process would.
"""

import subprocess
import sys
import textwrap

from tests.test_settings import ROOT

# The receive starts first and waits through more than one of redis-py 8's
# default 5 s socket timeouts before the message is sent.
IDLE_RECEIVE = textwrap.dedent(
    """
    import asyncio, django
    django.setup()
    from channels.layers import get_channel_layer

    async def main():
        layer = get_channel_layer()
        print(type(layer).__name__)
        channel = await layer.new_channel()
        receiving = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(6.5)
        assert not receiving.done(), receiving
        await layer.send(channel, {"type": "hello", "n": 42})
        message = await asyncio.wait_for(receiving, 5)
        print(message["n"])

    asyncio.run(main())
    """
)


def run_with_settings(script: str, redis_url: str, redis_prefix: str) -> str:
    """Run `script` in a fresh process whose settings come from this test's Redis; its output."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "gameproject.settings",
            "DEBUG": "true",
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": redis_prefix,
            "CHANNEL_LAYER_PREFIX": redis_prefix,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_an_idle_receive_on_the_redis_layer_survives_and_gets_the_message(redis_url, redis_prefix):
    result = run_with_settings(IDLE_RECEIVE, redis_url, redis_prefix)
    assert result.split() == ["RedisChannelLayer", "42"]


# As many Redis operations at once as a reconnect storm brings to one process:
# every player of a drained process redeeming a ticket, joining a group and
# telling a runner, all in the same few milliseconds.
BURST = textwrap.dedent(
    """
    import asyncio, django
    django.setup()
    from channels.layers import get_channel_layer
    from games.cluster import redis as cluster_redis
    from games.runtime.fanout import Fanout

    async def main():
        core, fanout = get_channel_layer(), Fanout()
        client = cluster_redis.async_client()
        n = 400
        sent = await asyncio.gather(
            *(core.send(f"burst.c{i}", {"type": "hello"}) for i in range(n)),
            *(fanout.publish(f"burst.p{i}", {"type": "hello"}) for i in range(n)),
            *(client.getdel(cluster_redis.key("burst", i)) for i in range(n)),
            return_exceptions=True,
        )
        print(sorted({type(result).__name__ for result in sent}))
        await core.flush()

    asyncio.run(main())
    """
)


def test_a_burst_of_redis_operations_in_one_process_never_fails_for_want_of_connections(
    redis_url, redis_prefix
):
    result = run_with_settings(BURST, redis_url, redis_prefix)
    assert result.split("\n")[0] == "['NoneType']", result
