"""The matchmaking queue: rating windows that widen with time, groups, leaving, expiry,
recovery, what renewing reports, atomic steps under concurrency (on real Redis and in
memory), queued players placed in open matches, and the services that turn a group into
a match or seat it in an open one."""

import asyncio
import random

import pytest
from django.utils import timezone

from games import services
from games.cluster import redis as cluster_redis
from games.matchmaking import (
    Entry,
    GroupRules,
    LocalQueue,
    RedisQueue,
    Renewal,
    rules_for,
)
from games.matchmaking.rules import places_in_open_matches
from games.models import Match, MatchStatus, Participant
from games.services import OpenMatch

T0 = 1_700_000_000.0
TTL, CLAIM = 15.0, 30.0
PAIRS = GroupRules(
    min_size=2,
    max_size=2,
    window_base=2.0,
    window_growth=0.5,
    window_max=25.0,
    fill_seconds=10.0,
)
ARENA = GroupRules(2, 8, 2.0, 0.5, 25.0, 10.0)


@pytest.fixture
def redis_queue(settings, redis_url, redis_prefix):
    settings.REDIS_URL = redis_url
    settings.REDIS_PREFIX = redis_prefix
    return RedisQueue()


@pytest.fixture(params=["redis", "memory"])
def queue(request):
    """Both implementations must behave the same, so every test runs on both."""
    if request.param == "memory":
        return LocalQueue()
    return request.getfixturevalue("redis_queue")


def entry(player_id, rating=25.0, at=T0, game="connect_four"):
    return Entry(player_id, game, f"specific.sock!{player_id}", rating, at)


async def join(queue, *entries, now=None):
    for e in entries:
        assert await queue.join(e, e.queued_at if now is None else now, TTL, CLAIM) == "queued"


def ids(groups):
    return [sorted(e.player_id for e in group) for group in groups]


async def queued_ids(queue, game="connect_four"):
    return [e.player_id for e in await queue.queued(game)]


# --- Windows and groups ------------------------------------------------------------------


async def test_two_players_with_close_ratings_are_paired_at_once(queue):
    await join(queue, entry(1, 25.0), entry(2, 26.5))
    groups = await queue.take("connect_four", T0, PAIRS)
    assert ids(groups) == [[1, 2]]
    assert await queued_ids(queue) == []


async def test_a_rating_gap_is_bridged_once_the_oldest_has_waited_long_enough(queue):
    # A gap of 6 needs a window of 6: 2 + 0.5/s from the older player's queue time.
    await join(queue, entry(1, 25.0, at=T0), entry(2, 31.0, at=T0 + 5))
    assert PAIRS.window(7.9) < 6.0 <= PAIRS.window(8.0)
    assert await queue.take("connect_four", T0 + 7.9, PAIRS) == []
    assert ids(await queue.take("connect_four", T0 + 8.0, PAIRS)) == [[1, 2]]


async def test_the_window_stops_growing_at_its_cap(queue):
    await join(queue, entry(1, 0.0), entry(2, 30.0))
    assert PAIRS.window(10_000) == 25.0
    assert await queue.take("connect_four", T0 + 1000, PAIRS) == []


async def test_players_are_grouped_with_the_closest_ratings(queue):
    # With a window of 10 everyone is in everyone's range; the oldest anchors the first
    # pair and takes the closest rating, not the next in line.
    wide = GroupRules(2, 2, 10.0, 0.5, 25.0, 10.0)
    await join(queue, entry(1, 20.0, at=T0), entry(2, 29.0, at=T0 + 1))
    await join(queue, entry(3, 28.0, at=T0 + 2), entry(4, 21.0, at=T0 + 3))
    groups = await queue.take("connect_four", T0 + 3, wide)
    assert ids(groups) == [[1, 4], [2, 3]]


async def test_a_lone_player_of_a_far_rating_does_not_hold_up_the_others(queue):
    await join(queue, entry(1, 45.0, at=T0), entry(2, 20.0, at=T0 + 1), entry(3, 21.0, at=T0 + 2))
    assert ids(await queue.take("connect_four", T0 + 2, PAIRS)) == [[2, 3]]
    assert await queued_ids(queue) == [1]


async def test_arena_waits_for_a_full_group_until_the_fill_time(queue):
    players = [entry(n, 25.0 + n / 10, at=T0 + n / 10, game="arena") for n in range(3)]
    await join(queue, *players)
    assert await queue.take("arena", T0 + 9.9, ARENA) == []
    assert ids(await queue.take("arena", T0 + 10.0, ARENA)) == [[0, 1, 2]]


async def test_a_full_arena_group_starts_at_once_with_the_closest_eight(queue):
    ratings = [25.0, 26.0, 24.0, 25.5, 24.5, 26.5, 23.5, 25.2, 20.0]  # the last is furthest
    await join(queue, *[entry(n, r, at=T0, game="arena") for n, r in enumerate(ratings)])
    groups = await queue.take("arena", T0 + 8, ARENA)  # window 6: everyone is in range
    assert ids(groups) == [[0, 1, 2, 3, 4, 5, 6, 7]]
    assert await queued_ids(queue, "arena") == [8]


async def test_the_rules_of_a_game_come_from_its_seats_and_the_settings(settings):
    settings.MATCHMAKING_FILL_SECONDS = 4.0
    arena = rules_for("arena")
    assert (arena.min_size, arena.max_size, arena.fill_seconds) == (2, 8, 4.0)
    assert (rules_for("connect_four").min_size, rules_for("connect_four").max_size) == (2, 2)


# --- Leaving, one queue per player ---------------------------------------------------------


async def test_a_player_who_left_is_never_matched(queue):
    await join(queue, entry(1), entry(2))
    assert await queue.leave(1, "", gone=False) == ("left", "connect_four")
    assert await queue.take("connect_four", T0 + 100, PAIRS) == []
    assert await queue.leave(1, "", gone=False) == ("absent", "")


async def test_a_player_is_in_at_most_one_queue(queue):
    await join(queue, entry(1, game="arena"))
    moved = Entry(1, "connect_four", "specific.other!tab", 25.0, T0 + 1)
    await join(queue, moved)
    assert await queued_ids(queue, "arena") == []
    assert await queue.queued("connect_four") == [moved]


async def test_only_the_socket_that_queued_a_player_removes_them_by_closing(queue):
    await join(queue, entry(1))
    assert await queue.leave(1, "specific.another!socket", gone=True) == ("absent", "")
    assert await queued_ids(queue) == [1]
    assert await queue.leave(1, entry(1).token, gone=True) == ("left", "connect_four")


async def test_a_player_taken_into_a_group_cannot_leave_or_queue_again(queue):
    await join(queue, entry(1), entry(2))
    await queue.take("connect_four", T0, PAIRS)
    assert await queue.leave(1, "", gone=False) == ("matching", "connect_four")
    assert await queue.join(entry(1, at=T0 + 1), T0 + 1, TTL, CLAIM) == "matching"


# --- After a take: finish, requeue, recovery -----------------------------------------------


async def test_requeued_players_keep_their_wait_but_not_if_their_socket_closed(queue):
    await join(queue, entry(1, at=T0), entry(2, at=T0 + 1))
    [group] = await queue.take("connect_four", T0 + 1, PAIRS)
    await queue.leave(1, entry(1).token, gone=True)  # 1's socket closes meanwhile
    await queue.requeue(group, T0 + 2, TTL)
    assert await queue.queued("connect_four") == [entry(2, at=T0 + 1)]
    assert await queue.join(entry(1, at=T0 + 3), T0 + 3, TTL, CLAIM) == "queued"


async def test_a_finished_group_is_forgotten(queue):
    await join(queue, entry(1), entry(2))
    [group] = await queue.take("connect_four", T0, PAIRS)
    await queue.finish(group, T0, TTL)
    assert await queue.leave(1, "", gone=False) == ("absent", "")
    assert await queued_ids(queue) == []


async def test_entries_whose_process_stops_renewing_them_expire(queue):
    await join(queue, entry(1, at=T0))
    await join(queue, entry(2, at=T0 + 20))
    assert await queue.take("connect_four", T0 + 20, PAIRS) == []  # 1 expired at T0 + 15
    assert await queued_ids(queue) == [2]


async def test_renewed_entries_stay(queue):
    await join(queue, entry(1, at=T0))
    assert await queue.renew([(1, entry(1).token)], T0 + 10, TTL, CLAIM) == [1]
    await join(queue, entry(2, at=T0 + 20))
    assert ids(await queue.take("connect_four", T0 + 20, PAIRS)) == [[1, 2]]


async def test_a_group_whose_match_was_never_made_returns_to_the_queue(queue):
    # The process that took the group died before creating the match.
    await join(queue, entry(1), entry(2))
    await queue.take("connect_four", T0, PAIRS)
    tokens = [(1, entry(1).token), (2, entry(2).token)]
    assert await queue.renew(tokens, T0 + CLAIM - 1, TTL, CLAIM) == [2, 2]
    assert await queue.renew(tokens, T0 + CLAIM, TTL, CLAIM) == [1, 1]
    assert ids(await queue.take("connect_four", T0 + CLAIM, PAIRS)) == [[1, 2]]


# --- What renewing reports: a socket is told it lost its place, but never once matched ------


async def test_renewing_reports_a_finished_entry_once_and_not_as_lapsed(queue):
    # The players hear `matched` over the channel layer, maybe only after their process
    # has renewed: that renew must not take the vanished entries for lapsed ones.
    await join(queue, entry(1), entry(2, at=T0 + 1))
    [group] = await queue.take("connect_four", T0 + 1, PAIRS)
    await queue.finish(group, T0 + 2, TTL)
    tokens = [(1, entry(1).token), (2, entry(2).token)]
    assert await queue.renew(tokens, T0 + 3, TTL, CLAIM) == [Renewal.FINISHED] * 2
    assert await queue.renew(tokens, T0 + 4, TTL, CLAIM) == [Renewal.LAPSED] * 2


async def test_an_entry_dropped_as_expired_is_reported_as_lapsed(queue):
    # Its process stalled past the TTL, and another process's take dropped the entry.
    await join(queue, entry(1, at=T0))
    assert await queue.take("connect_four", T0 + TTL + 1, PAIRS) == []
    assert await queue.renew([(1, entry(1).token)], T0 + TTL + 2, TTL, CLAIM) == [Renewal.LAPSED]


async def test_renewing_reports_an_entry_taken_over_by_another_socket_as_replaced(queue):
    await join(queue, entry(1))
    await join(queue, Entry(1, "connect_four", "specific.new!tab", 25.0, T0 + 1))
    assert await queue.renew([(1, entry(1).token)], T0 + 2, TTL, CLAIM) == [Renewal.REPLACED]


async def test_a_match_is_still_reported_after_the_player_queued_from_another_socket(queue):
    await join(queue, entry(1), entry(2))
    [group] = await queue.take("connect_four", T0, PAIRS)
    await queue.finish(group, T0, TTL)
    await join(queue, Entry(1, "connect_four", "specific.new!tab", 25.0, T0 + 1))
    assert await queue.renew([(1, entry(1).token)], T0 + 2, TTL, CLAIM) == [Renewal.FINISHED]


async def test_queueing_again_from_the_same_socket_clears_its_marker(queue):
    await join(queue, entry(1), entry(2))
    [group] = await queue.take("connect_four", T0, PAIRS)
    await queue.finish(group, T0, TTL)
    await join(queue, entry(1, at=T0 + 1))
    assert await queue.take("connect_four", T0 + TTL + 2, PAIRS) == []  # and it lapses
    assert await queue.renew([(1, entry(1).token)], T0 + TTL + 3, TTL, CLAIM) == [Renewal.LAPSED]


async def markers(queue):
    if isinstance(queue, LocalQueue):
        return len(queue.finished)
    return await cluster_redis.async_client().zcard(cluster_redis.key("mm", "finished"))


async def test_markers_no_socket_renews_go_with_a_later_finish(queue):
    # The sockets of a process that died never renew again.
    await join(queue, entry(1), entry(2))
    [group] = await queue.take("connect_four", T0, PAIRS)
    await queue.finish(group, T0, TTL)
    later = T0 + TTL + 1
    await join(queue, entry(3, at=later), entry(4, at=later))
    [other] = await queue.take("connect_four", later, PAIRS)
    assert await markers(queue) == 2
    await queue.finish(other, later, TTL)
    assert await markers(queue) == 2  # 3's and 4's; 1's and 2's have gone
    assert await queue.renew([(1, entry(1).token)], later, TTL, CLAIM) == [Renewal.LAPSED]


# --- Claiming queued players for an open match ------------------------------------------


async def test_claimed_players_leave_the_queue_as_if_taken_into_a_group(queue):
    await join(queue, entry(1), entry(2, at=T0 + 1), entry(3, at=T0 + 2))
    assert await queue.claim([entry(1), entry(3, at=T0 + 2)], T0 + 3) == [
        entry(1),
        entry(3, at=T0 + 2),
    ]
    assert await queued_ids(queue) == [2]
    assert await queue.leave(1, "", gone=False) == ("matching", "connect_four")
    tokens = [(1, entry(1).token), (3, entry(3).token)]
    assert await queue.renew(tokens, T0 + 4, TTL, CLAIM) == [Renewal.MATCHING] * 2
    # Seated: finished, and reported once, as a group is.
    await queue.finish([entry(1), entry(3, at=T0 + 2)], T0 + 5, TTL)
    assert await queue.renew(tokens, T0 + 6, TTL, CLAIM) == [Renewal.FINISHED] * 2


async def test_only_entries_still_queued_as_they_were_read_are_claimed(queue):
    await join(queue, entry(1), entry(2), entry(3))
    await queue.take("connect_four", T0, PAIRS)  # 1 and 2: another matcher's
    await join(queue, Entry(3, "connect_four", "specific.new!tab", 25.0, T0 + 1))  # moved
    assert await queue.claim([entry(1), entry(3), entry(4)], T0 + 2) == []
    assert await queued_ids(queue) == [3]


async def test_claimed_players_whose_seat_was_refused_go_back_with_their_wait(queue):
    await join(queue, entry(1, at=T0), entry(2, at=T0 + 5))
    claimed = await queue.claim([entry(1, at=T0)], T0 + 6)
    await queue.requeue(claimed, T0 + 7, TTL)
    assert await queue.queued("connect_four") == [entry(1, at=T0), entry(2, at=T0 + 5)]


async def test_claimed_players_are_queued_again_if_their_claimer_dies(queue):
    await join(queue, entry(1))
    await queue.claim([entry(1)], T0)
    assert await queue.renew([(1, entry(1).token)], T0 + CLAIM, TTL, CLAIM) == [Renewal.QUEUED]
    assert await queued_ids(queue) == [1]


async def test_the_queue_can_be_read_oldest_first_up_to_a_limit(queue):
    await join(queue, entry(3, at=T0 + 2), entry(1, at=T0), entry(2, at=T0 + 1))
    assert [e.player_id for e in await queue.queued("connect_four", 2)] == [1, 2]
    assert await queue.queued("connect_four", 0) == []
    assert await queued_ids(queue) == [1, 2, 3]


def open_match(name, free=1, seated=(99,), rating=25.0, since=T0):
    return OpenMatch(name, free, frozenset(seated), rating, since)


def test_queued_players_fill_the_oldest_open_match_first_oldest_first():
    waiting = [entry(1, at=T0), entry(2, at=T0 + 1), entry(3, at=T0 + 2)]
    older, newer = open_match("older", free=2), open_match("newer", free=3)
    plan = places_in_open_matches([older, newer], waiting, T0 + 2, PAIRS)
    assert plan == [(older, waiting[:2]), (newer, waiting[2:])]


def test_an_open_match_takes_players_within_the_rating_window_of_its_players():
    # The match of a player rated 30 has waited 2 s (window 3); the queued players 1 s.
    near, far = entry(1, rating=27.5, at=T0 + 1), entry(2, rating=26.0, at=T0 + 1)
    match = open_match("m", free=2, rating=30.0, since=T0)
    assert places_in_open_matches([match], [near, far], T0 + 2, PAIRS) == [(match, [near])]
    # The window widens with the wait of whoever waited longer, as in a group.
    assert places_in_open_matches([match], [near, far], T0 + 6, PAIRS) == [(match, [near, far])]


def test_a_player_is_never_placed_in_a_match_they_sit_in():
    mine = open_match("mine", seated=(1,))
    assert places_in_open_matches([mine], [entry(1)], T0, PAIRS) == []
    other = open_match("other")
    assert places_in_open_matches([mine, other], [entry(1)], T0, PAIRS) == [(other, [entry(1)])]


# --- Atomicity -------------------------------------------------------------------------------


async def test_redis_and_memory_form_the_same_groups(redis_queue):
    rng = random.Random(7)
    memory = LocalQueue()
    players = [
        entry(
            n, rng.uniform(10, 40), T0 + rng.uniform(0, 30), rng.choice(["arena", "connect_four"])
        )
        for n in range(1, 61)
    ]
    for q in (redis_queue, memory):
        await join(q, *players, now=T0)
        await q.renew([(p.player_id, p.token) for p in players], T0 + 30, 120.0, CLAIM)
    formed = []
    for step in range(0, 60, 3):
        for game in ("arena", "connect_four"):
            rules = rules_for(game)
            expected = await memory.take(game, T0 + step, rules)
            assert await redis_queue.take(game, T0 + step, rules) == expected
            formed += expected
    sizes = {len(group) for group in formed}
    assert 2 in sizes and max(sizes) > 2  # pairs, and arena groups of more
    assert await redis_queue.queued("arena") == await memory.queued("arena")
    assert await redis_queue.queued("connect_four") == await memory.queued("connect_four")


async def test_concurrent_joins_takes_and_leaves_never_put_a_player_into_two_groups(
    redis_queue,
):
    # Players arrive while eight matchers take groups; every ninth leaves right after
    # joining, racing the matchers. Half of those have a rating nobody else is near, so
    # some leaves surely succeed; the others may come too late ("matching").
    def rating(n):
        return 100.0 + 10 * n if n % 18 == 0 else 20.0 + (n % 7)

    players = [entry(n, rating(n), T0 + n / 100) for n in range(1, 201)]
    left: set[int] = set()
    groups: list[list[Entry]] = []

    # redis-py's async pool refuses more than 100 connections at once: stay under it.
    connections = asyncio.Semaphore(50)

    async def arrive(player):
        async with connections:
            assert await redis_queue.join(player, T0, 1000.0, CLAIM) == "queued"
            if player.player_id % 9 != 0:
                return
            result, _ = await redis_queue.leave(player.player_id, "", gone=False)
            assert result in ("left", "matching")
            if result == "left":
                left.add(player.player_id)

    async def matcher(offset):
        for step in range(30):
            groups.extend(await redis_queue.take("connect_four", T0 + offset + step, PAIRS))

    await asyncio.gather(*(arrive(p) for p in players), *(matcher(m / 10) for m in range(8)))
    groups.extend(await redis_queue.take("connect_four", T0 + 60, PAIRS))  # the stragglers

    matched = [e.player_id for group in groups for e in group]
    assert len(matched) == len(set(matched)), "a player was taken into two groups"
    assert not set(matched) & left, "a player who left was matched"
    assert all(len(group) == 2 for group in groups)
    assert len(groups) > 50 and len(left) >= 11  # both kinds of step really ran
    unmatched = set(await queued_ids(redis_queue)) | left
    assert unmatched | set(matched) == {p.player_id for p in players}
    assert len(unmatched - left) <= 1  # everyone else found a partner


# --- The service that makes the match ---------------------------------------------------------


@pytest.mark.pg
@pytest.mark.django_db
def test_a_queued_match_seats_every_player_of_the_group(player_factory):
    players = [player_factory() for _ in range(3)]
    made = services.create_queued_match("arena", [p.pk for p in players])
    assert made.refused == {} and made.match is not None
    match = Match.objects.get(pk=made.match.pk)
    assert match.status == MatchStatus.WAITING and match.max_players == 3
    assert not match.is_private
    seats = list(match.participants.order_by("seat").values_list("player_id", "seat"))
    assert seats == [(players[0].pk, 0), (players[1].pk, 1), (players[2].pk, 2)]


@pytest.mark.pg
@pytest.mark.django_db
def test_a_banned_player_is_refused_and_nothing_is_written(player_factory):
    alice, bob = player_factory(), player_factory()
    services.ban_player(bob, "cheating")
    made = services.create_queued_match("connect_four", [alice.pk, bob.pk])
    assert made.match is None
    assert made.refused == {bob.pk: "You are banned: cheating"}
    assert not Match.objects.exists()


@pytest.mark.pg
@pytest.mark.django_db
def test_a_group_of_an_illegal_size_is_refused(player_factory):
    players = [player_factory() for _ in range(3)]
    with pytest.raises(services.InvalidRequest):
        services.create_queued_match("connect_four", [p.pk for p in players])
    with pytest.raises(services.InvalidRequest):
        services.create_queued_match("arena", [players[0].pk, players[0].pk])


@pytest.mark.pg
@pytest.mark.django_db
def test_seats_in_matches_that_have_not_started_are_given_up(player_factory, match_factory):
    alice, bob, carol = player_factory(), player_factory(), player_factory()
    old = match_factory("arena", players=[carol, alice])
    made = services.create_queued_match("connect_four", [alice.pk, bob.pk])
    assert made.match is not None
    assert list(old.participants.values_list("player_id", "seat")) == [(carol.pk, 0)]
    assert Participant.objects.filter(player=alice, match__status="waiting").count() == 1


@pytest.mark.pg
@pytest.mark.django_db
def test_players_hear_of_the_match_only_after_commit(
    player_factory, django_capture_on_commit_callbacks, monkeypatch
):
    alice, bob = player_factory(), player_factory()
    sent = []
    monkeypatch.setattr(
        "games.services.announce.async_to_sync", lambda f: lambda group, m: sent.append((group, m))
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        made = services.create_queued_match("connect_four", [alice.pk, bob.pk])
    assert sent == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert made.match is not None
    matched = [(g, m) for g, m in sent if m["type"] == "matchmaking.matched"]
    assert [g for g, _ in matched] == [f"player.{alice.pk}", f"player.{bob.pk}"]
    assert f'"id":"{made.match.pk}"' in matched[0][1]["text"]
    assert f'"url":"/play/{made.match.pk}/"' in matched[0][1]["text"]


@pytest.mark.pg
@pytest.mark.django_db
def test_a_player_seated_in_a_match_in_progress_may_not_queue(player_factory, match_factory):
    alice, bob = player_factory(), player_factory()
    playing = match_factory("arena", players=[alice, bob], status="active")
    with pytest.raises(services.AlreadyPlaying) as refused:
        services.check_can_queue(alice, "connect_four")
    assert refused.value.code == "in_match"
    assert (refused.value.match_id, refused.value.game) == (str(playing.pk), "arena")
    assert "playing a match" in refused.value.message
    # Once they have left it, or it is over, they may.
    Participant.objects.filter(player=alice).update(left_at=timezone.now())
    services.check_can_queue(alice, "connect_four")
    services.finish_match(
        playing.pk,
        [services.SeatRecord(0, "win", 1, 1), services.SeatRecord(1, "loss", 0, 2)],
        "Seat 0 wins.",
    )
    services.check_can_queue(bob, "connect_four")


@pytest.mark.pg
@pytest.mark.django_db
def test_a_seat_in_a_waiting_match_does_not_stop_a_player_queueing(player_factory, match_factory):
    alice = player_factory()
    match_factory("arena", players=[alice, player_factory()])
    services.check_can_queue(alice, "connect_four")


@pytest.mark.pg
@pytest.mark.django_db
def test_checking_whether_a_player_may_queue_costs_two_queries(
    player_factory, match_factory, django_assert_num_queries
):
    alice = player_factory()
    for _ in range(3):
        match_factory("arena", players=[alice, player_factory()], status="finished")
    # One for the seats in matches in progress, one for recent abandonments (cooldowns).
    with django_assert_num_queries(2):
        services.check_can_queue(alice, "connect_four")


@pytest.mark.pg
@pytest.mark.django_db
def test_a_player_who_joined_a_match_in_progress_since_queueing_is_refused(
    player_factory, match_factory
):
    alice, bob, carol, dave = (player_factory() for _ in range(4))
    match_factory("arena", players=[alice, carol], status="active")
    waiting = match_factory("arena", players=[bob, dave])
    made = services.create_queued_match("connect_four", [alice.pk, bob.pk])
    assert made.match is None
    assert made.refused == {
        alice.pk: "You are playing a match already: finish it or rejoin it first."
    }
    assert Match.objects.count() == 2  # nothing written: bob keeps his waiting seat
    assert waiting.participants.filter(player=bob).exists()


@pytest.mark.pg
@pytest.mark.django_db
def test_open_public_matches_are_those_waiting_with_a_free_seat(player_factory, match_factory):
    strong, weak = player_factory(rating_mu=30.0), player_factory(rating_mu=20.0)
    arena = match_factory("arena", players=[strong, weak], max_players=3)
    match_factory("connect_four", seats=2)  # full
    match_factory("connect_four", seats=1, is_private=True)
    gone = match_factory("connect_four", seats=1)
    services.abort_match(gone.pk, "Nobody came.")
    lone = match_factory("connect_four", seats=1)
    match_factory("connect_four", seats=2, status="active")
    assert [m.match_id for m in services.open_public_matches("connect_four")] == [str(lone.pk)]
    [found] = services.open_public_matches("arena")
    assert found == OpenMatch(
        str(arena.pk), 1, frozenset({strong.pk, weak.pk}), 25.0, arena.created_at.timestamp()
    )


@pytest.mark.pg
@pytest.mark.django_db
def test_queued_players_are_seated_in_the_free_seats_of_an_open_match(
    player_factory, match_factory
):
    waiting, alice, bob = player_factory(), player_factory(), player_factory()
    open_ = match_factory("arena", players=[waiting], max_players=4)
    elsewhere = match_factory("connect_four", players=[bob, player_factory()])
    made = services.seat_queued_players(open_.pk, [alice.pk, bob.pk])
    assert made == services.QueuedMatch(made.match, {}) and made.match is not None
    assert made.match.pk == open_.pk
    seats = list(open_.participants.order_by("seat").values_list("player_id", "seat"))
    assert seats == [(waiting.pk, 0), (alice.pk, 1), (bob.pk, 2)]
    assert not elsewhere.participants.filter(player=bob).exists()  # one match at a time


@pytest.mark.pg
@pytest.mark.django_db
@pytest.mark.parametrize("change", ["started", "filled", "aborted", "seated"])
def test_a_match_that_can_no_longer_take_the_players_takes_nobody(
    change, player_factory, match_factory
):
    alice, bob = player_factory(), player_factory()
    open_ = match_factory("arena", seats=1, max_players=4)
    if change == "started":
        Match.objects.filter(pk=open_.pk).update(status=MatchStatus.ACTIVE)
    elif change == "filled":
        for _ in range(2):  # one seat left, for two players
            services.join_match(player_factory(), open_.pk)
    elif change == "aborted":
        services.abort_match(open_.pk, "Nobody came.")
    else:
        services.join_match(bob, open_.pk)  # two seats left, but bob sits in it already
    seated_before = set(open_.participants.values_list("player_id", flat=True))
    made = services.seat_queued_players(open_.pk, [alice.pk, bob.pk])
    assert made == services.QueuedMatch(None, {})
    assert set(open_.participants.values_list("player_id", flat=True)) == seated_before


@pytest.mark.pg
@pytest.mark.django_db
def test_a_banned_player_is_not_seated_in_an_open_match(player_factory, match_factory):
    alice = player_factory()
    services.ban_player(alice, "cheating")
    open_ = match_factory("connect_four", seats=1)
    made = services.seat_queued_players(open_.pk, [alice.pk])
    assert made == services.QueuedMatch(None, {alice.pk: "You are banned: cheating"})
    assert open_.participants.count() == 1
