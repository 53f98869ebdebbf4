"""SIGTERM drains a daphne process: its match moves to another process at once, its
sockets are closed with 4012 so clients reconnect, and the process exits in bounded time."""

import asyncio
import signal

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.servers import RUNNING, SERVERS
from tests.e2e.test_failover import four_moves_on_two_processes, move, socket_to
from tests.e2e.test_match_over_servers import next_frame

EXIT_BOUND = 15.0  # DRAIN_SECONDS (10) plus daphne's own shutdown


@pytest.fixture(params=SERVERS)
def server_kind(request):
    """The core of the end-to-end suite: this module runs under each supported server."""
    return request.param


async def test_sigterm_hands_the_match_over_and_the_players_finish_it(two_sites):
    first, second, _ = two_sites
    match, alice, bob, a, b = await four_moves_on_two_processes(first, second)
    async with b:
        process = RUNNING[int(first.rsplit(":", 1)[1])]
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        process.send_signal(signal.SIGTERM)

        closing = await next_frame(a, "closing")
        assert closing["code"] == 4012
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await a.recv()
        assert a.close_code == 4012  # a close frame, not a dropped connection

        # The lease was released after a final checkpoint: the other process adopts at once.
        welcome = await next_frame(b, "welcome")
        assert loop.time() - sent_at < 3.0
        assert welcome["state"]["moves"] == 4

        await asyncio.to_thread(process.wait, EXIT_BOUND)
        assert loop.time() - sent_at <= EXIT_BOUND

        async with socket_to(second, match, alice) as a2:
            assert (await next_frame(a2, "welcome"))["you"]["seat"] == 0
            seats = {0: a2, 1: b}
            for n, column in enumerate([0, 1, 0], start=4):
                await move(seats, b, n, column)
            results = [await next_frame(ws, "result") for ws in (a2, b)]
    assert results[0] == results[1] and "four in a row" in results[0]["summary"]
    assert bob.get_json(f"/api/matches/{match}/")["status"] == "finished"
