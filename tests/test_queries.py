"""The lobby, leaderboard and history pages cost a fixed number of queries, served by indexes.

Page size must not change the query count (no N+1). On PostgreSQL the planner
must be able to answer each page from its index without sorting; sequential
and bitmap scans are switched off for the check (tiny test tables would
otherwise always be scanned whole), so a missing or mis-ordered index shows
up as a plan without it or with a Sort node.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from games import services
from games.models import Match, Participant, Player

pytestmark = [pytest.mark.pg, pytest.mark.django_db]


@pytest.fixture
def busy_site(player_factory):
    """12 rated players, 12 open arena matches with 2 seats taken, 12 matches in one history."""
    players = [player_factory(matches_played=1, rating_ordinal=float(i)) for i in range(12)]
    for creator, guest in zip(players, reversed(players), strict=True):
        match = services.create_match(creator, "arena", max_players=4)
        services.join_match(guest, match.pk)
    for opponent in players[1:]:
        match = services.create_match(players[0], "connect_four")
        services.join_match(opponent, match.pk)
    return players


def query_count(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), response.json()


@pytest.mark.parametrize(
    "url",
    [
        "/api/matches/?game=arena",
        "/api/leaderboard/",
        "/api/players/{player}/matches/",
    ],
)
def test_api_pages_cost_the_same_queries_for_any_page_size(client, busy_site, url):
    url = url.format(player=busy_site[0].pk)
    small, small_body = query_count(client, f"{url}{'&' if '?' in url else '?'}page_size=2")
    large, large_body = query_count(client, f"{url}{'&' if '?' in url else '?'}page_size=12")
    assert len(small_body["results"]) == 2
    assert len(large_body["results"]) >= 11
    assert small == large


@pytest.mark.parametrize("page", ["home", "leaderboard", "profile"])
def test_html_pages_cost_the_same_queries_with_more_rows(client, player_factory, page):
    me = player_factory(matches_played=1)
    url = {"home": "/", "leaderboard": "/leaderboard/", "profile": f"/players/{me.pk}/"}[page]

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def add_rows(n):
        for other in [player_factory(matches_played=1) for _ in range(n)]:
            services.join_match(me, services.create_match(other, "arena").pk)
            services.create_match(other, "connect_four")

    add_rows(2)
    few = count()
    add_rows(6)
    assert count() == few


def plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        try:
            return queryset.explain()
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_bitmapscan")


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="query plans are checked on PostgreSQL"
)


@postgres_only
def test_the_lobby_query_uses_its_index(busy_site):
    text = plan(Match.objects.open_lobby("arena")[:20])
    assert "match_lobby_idx" in text and "Sort" not in text, text


@postgres_only
def test_the_leaderboard_query_uses_its_index(busy_site):
    text = plan(Player.objects.leaderboard()[:20])
    assert "player_leaderboard_idx" in text and "Sort" not in text, text


@postgres_only
def test_the_history_query_uses_its_index(busy_site):
    text = plan(Participant.objects.history_for(busy_site[0])[:20])
    assert "participant_history_idx" in text and "Sort" not in text, text
