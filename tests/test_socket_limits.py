"""Limits on every socket, through the real ASGI stack: acknowledgements, the lobby's
rate limits and abuse close, and the connection counts behind the caps."""

import asyncio
import json
import socket

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from gameproject.asgi import application
from games.sockets.limits import (
    Cap,
    Outbox,
    OverCap,
    SocketCounts,
    TokenBucket,
    address_key,
    without_waiting,
)
from tests.runtime import ORIGIN, _session_cookie, join, opened

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]

LIE = 2**31 - 1  # the largest tick the protocol accepts


async def started_arena(match_factory, alice, bob):
    match = await sync_to_async(match_factory)(
        "arena", players=[alice, bob], settings={"time_limit_seconds": 30}
    )
    a, _ = await join(match, alice)
    b, _ = await join(match, bob)
    for sock in (a, b):
        await sock.send(type="ready")
    return a, b


async def test_an_ack_of_a_tick_never_sent_is_invalid(match_factory, alice, bob):
    a, b = await started_arena(match_factory, alice, bob)
    state = await a.until("state")
    await a.send(type="ack", tick=state["tick"])  # a tick it was sent: fine
    await a.send(type="ack", tick=LIE)
    error = await a.until("error")
    assert error["code"] == "invalid"
    assert f"tick {LIE} was never sent" in error["message"]
    assert [f for f in a.seen if f["type"] == "error"] == [error], "the honest ack passed"
    await a.close()
    await b.close()


async def test_an_input_carrying_a_future_ack_is_refused_whole(match_factory, alice, bob):
    a, b = await started_arena(match_factory, alice, bob)
    await a.until("state")
    data = {"seq": 1, "mx": 1, "my": 0, "aim": 0, "fire": False}
    await a.send(type="input", data=data, ack=LIE)
    assert (await a.until("error"))["code"] == "invalid"
    await a.send(type="ping", id=7)
    await a.until("pong", id=7)
    ships = [f["state"]["ships"][0] for f in a.seen if f["type"] == "state"]
    assert all(ship["ack"] < 1 for ship in ships), "the refused input was not applied"
    await a.close()
    await b.close()


async def test_an_ack_before_any_state_is_invalid(match_factory, alice):
    match = await sync_to_async(match_factory)("arena", players=[alice])
    sock, _ = await join(match, alice)
    await sock.send(type="ack", tick=0)
    error = await sock.until("error")
    assert error["code"] == "invalid" and "no state yet" in error["message"]
    await sock.close()


async def test_lying_acks_count_as_strikes_and_close_the_socket(match_factory, alice):
    match = await sync_to_async(match_factory)("arena", players=[alice])
    sock, _ = await join(match, alice)
    for _ in range(25):
        await sock.send(type="ack", tick=LIE)
    assert await sock.closed() == 4008


# --- The lobby socket --------------------------------------------------------------------


async def lobby_socket(player=None, client=None):
    headers = [(b"origin", ORIGIN)]
    if player is not None:
        cookie = await sync_to_async(_session_cookie)(player)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/lobby/", headers=headers)
    if client is not None:
        communicator.scope["client"] = client
    opened.append(communicator)
    connected, _ = await communicator.connect(5)
    assert connected
    return communicator


async def frames_until_closed(communicator):
    frames = []
    while True:
        output = await communicator.receive_output(5)
        if output["type"] == "websocket.close":
            await communicator.send_input({"type": "websocket.disconnect", "code": output["code"]})
            return frames, output["code"]
        frames.append(json.loads(output["text"]))


async def test_a_lobby_flood_is_closed_with_4008_after_a_few_answers():
    lobby = await lobby_socket()
    for n in range(200):
        await lobby.send_to(text_data=json.dumps({"type": "ping", "id": n}))
    frames, code = await frames_until_closed(lobby)
    assert code == 4008
    kinds = [f.get("code") or f["type"] for f in frames if f["type"] != "lobby"]
    # The burst is answered, then each refused frame until the strikes run out; the
    # rest of the flood is dropped unanswered.
    assert kinds.count("pong") <= 12
    assert kinds.count("rate_limited") == 20
    assert frames[-1] == {"type": "closing", "code": 4008, "reason": frames[-1]["reason"]}
    assert len(kinds) <= 35


async def test_bad_lobby_frames_count_as_strikes():
    lobby = await lobby_socket()
    await lobby.receive_from(5)  # the lobby snapshot
    await lobby.send_to(text_data="garbage")
    assert json.loads(await lobby.receive_from(5))["code"] == "malformed"
    for _ in range(30):
        await lobby.send_to(text_data="garbage")
    _, code = await frames_until_closed(lobby)
    assert code == 4008


async def test_queue_requests_have_a_rate_of_their_own(alice):
    lobby = await lobby_socket(alice)
    await lobby.receive_from(5)
    for _ in range(8):
        await lobby.send_to(text_data=json.dumps({"type": "unqueue"}))
    codes = []
    for _ in range(8):
        frame = json.loads(await lobby.receive_from(5))
        codes.append(frame.get("code") or frame["type"])
    assert codes.count("not_queued") == 5, codes  # the burst reaches matchmaking
    assert codes.count("rate_limited") == 3, codes


async def test_a_lobby_socket_over_the_anonymous_cap_is_refused_with_4029(settings):
    settings.MAX_ANONYMOUS_LOBBY_SOCKETS_PER_IP = 2
    address = ["203.0.113.9", 50000]
    first, second = [await lobby_socket(client=address) for _ in range(2)]
    third = await lobby_socket(client=address)
    frames, code = await frames_until_closed(third)
    assert code == 4029
    assert frames == [{"type": "closing", "code": 4029, "reason": frames[0]["reason"]}], (
        "no lobby frame for a refused socket"
    )
    assert "Too many lobby connections from your network" in frames[0]["reason"]
    await first.disconnect()
    again = await lobby_socket(client=address)
    assert json.loads(await again.receive_from(5))["type"] == "lobby", "a freed slot lets one in"
    await second.disconnect()
    await again.disconnect()


# --- The counts ----------------------------------------------------------------------------


def test_a_rate_allows_its_burst_then_refills_at_its_rate_and_never_past_the_burst():
    now = [0.0]
    bucket = TokenBucket(rate=4, burst=3, clock=lambda: now[0])  # times exact in binary
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.25  # one token's worth
    assert [bucket.allow(), bucket.allow()] == [True, False]
    now[0] += 64  # a long quiet spell saves up no more than the burst
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.125  # half a token: not yet
    assert not bucket.allow()
    now[0] += 0.125
    assert bucket.allow()


def test_counts_refuse_past_a_cap_and_release_once():
    counts = SocketCounts()
    caps = [Cap("user:1", 2, "too many for you"), Cap("ip:10.0.0.1", 3, "too many here")]
    first = counts.admit(caps)
    counts.admit(caps)
    with pytest.raises(OverCap, match="too many for you"):
        counts.admit(caps)
    counts.admit([Cap("user:2", 2, "-"), Cap("ip:10.0.0.1", 3, "too many here")])
    with pytest.raises(OverCap, match="too many here"):
        counts.admit([Cap("user:3", 2, "-"), Cap("ip:10.0.0.1", 3, "too many here")])
    first()
    first()  # a second release changes nothing
    assert counts.open == {"user:1": 1, "ip:10.0.0.1": 2, "user:2": 1}
    counts.admit(caps)  # the freed slot
    assert counts.admit([Cap("user:1", 0, "no cap")]) is not None


def test_addresses_are_counted_by_host_and_ipv6_by_its_64():
    assert address_key(["198.51.100.7", 1234]) == "198.51.100.7"
    assert address_key(["2001:db8:1:2:aaaa::1", 1]) == address_key(["2001:db8:1:2:bbbb::9", 2])
    assert address_key(["2001:db8:1:2::1", 1]) != address_key(["2001:db8:1:3::1", 1])
    assert address_key(["::ffff:198.51.100.7", 1]) == "198.51.100.7"
    assert address_key(None) is None


# --- The outbox (servers whose send waits for a slow client) ------------------------------


class WaitingServer:
    """A server's send as uvicorn's is: it writes the frame, then waits while the
    connection's write buffer is over its high-water mark. Over a real TCP connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.transport = writer.transport

    async def send(self, message: dict) -> None:
        self.writer.write(message["bytes"])
        await self.writer.drain()


async def a_connection_nobody_reads():
    """(server side writer, client socket, close): the client reads nothing until told."""
    accepted: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def on_client(reader, writer):
        accepted.set_result(writer)
        await done.wait()  # the connection lives as long as the test needs it

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.setblocking(False)
    await asyncio.get_running_loop().sock_connect(client, server.sockets[0].getsockname())
    writer = await accepted
    # A small send buffer: the kernel takes little, and the rest waits in the transport.
    writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    def close():
        writer.close()
        client.close()
        done.set()
        server.close()

    return writer, client, close


async def read_all(client: socket.socket, size: int) -> bytes:
    loop, received = asyncio.get_running_loop(), bytearray()
    while len(received) < size:
        received += await loop.sock_recv(client, 65536)
    return bytes(received)


async def test_the_outbox_never_makes_the_sender_wait_for_a_client_that_reads_nothing():
    writer, _, close = await a_connection_nobody_reads()
    waiting = WaitingServer(writer)
    outbox = without_waiting(waiting.send)
    assert isinstance(outbox, Outbox)
    frames = [bytes([i % 256]) * 4096 for i in range(200)]  # 800 KiB: far past every buffer
    async with asyncio.timeout(2):  # each send returns at once: none waits for the client
        for frame in frames:
            await outbox({"type": "websocket.send", "bytes": frame})
    assert outbox.backlog() > 600 * 1024, "what the client has not read is counted"
    close()
    # The same frames straight to the server: the sender waits once the client is behind.
    writer, _, close = await a_connection_nobody_reads()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(2):
            for frame in frames:
                await WaitingServer(writer).send({"type": "websocket.send", "bytes": frame})
    close()


async def test_the_outbox_delivers_everything_in_order_once_the_client_reads():
    writer, client, close = await a_connection_nobody_reads()
    outbox = without_waiting(WaitingServer(writer).send)
    frames = [bytes([i % 256]) * 1000 for i in range(300)]
    for frame in frames:
        await outbox({"type": "websocket.send", "bytes": frame})
    async with asyncio.timeout(10):
        received = await read_all(client, sum(map(len, frames)))
    assert received == b"".join(frames)
    close()
