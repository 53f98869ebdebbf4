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


def test_an_idle_receive_on_the_redis_layer_survives_and_gets_the_message(redis_url, redis_prefix):
    result = subprocess.run(
        [sys.executable, "-c", IDLE_RECEIVE],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "gameproject.settings",
            "DEBUG": "true",
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": redis_prefix,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RedisChannelLayer", "42"]
