"""Single-process mode: without REDIS_URL the same runtime runs on the in-memory layer."""

import pytest
from asgiref.sync import sync_to_async

from games.models import Match
from tests.conftest import client_for
from tests.runtime import connect
from tests.test_match_socket import play_columns, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_runners")]


async def test_a_match_is_played_to_the_end_without_redis(match_factory, alice, bob):
    match = await sync_to_async(match_factory)(players=[alice, bob])
    a, b = await start(match, alice, bob)
    await play_columns([a, b], [0, 1], [5, 6, 5, 6, 5, 6, 5])
    result = await b.until("result")
    assert "four in a row" in result["summary"]
    stored = await sync_to_async(Match.objects.get)(pk=match.pk)
    assert stored.status == "finished"
    await a.close()
    await b.close()


async def test_tickets_work_without_redis(match_factory, alice):
    match = await sync_to_async(match_factory)(players=[alice])
    response = await sync_to_async(
        lambda: client_for(alice).post(f"/api/matches/{match.pk}/ticket/")
    )()
    sock = await connect(match, query=f"ticket={response.json()['ticket']}")
    assert (await sock.until("welcome"))["you"]["player_id"] == alice.pk
    await sock.close()
