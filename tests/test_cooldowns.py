"""Queue cooldowns: leaving rated matches early, counted per player, with an escalating wait."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from games import services
from games.models import AuditEntry, Participant, Player
from games.services import cooldowns
from tests.test_roles import staff_client

# On PostgreSQL too (make pytest-postgres): the count reads JSON results and compares columns.
pytestmark = [pytest.mark.django_db, pytest.mark.pg]


@pytest.fixture
def abandon(match_factory, player_factory):
    """`abandon(player, ago=...)`: the player left a finished match early, `ago` back."""

    def make(player: Player, *, ago: timedelta = timedelta(0), private: bool = False) -> None:
        other = player_factory()
        match = match_factory(players=[player, other], status="active", is_private=private)
        results = [
            services.SeatRecord(0, "abandoned", 0, 2),
            services.SeatRecord(1, "win", 1, 1),
        ]
        services.finish_match(match.pk, results, "Seat 0 left.")
        Participant.objects.filter(match=match).update(left_at=timezone.now() - ago)

    return make


def queue_refusal(player: Player) -> str | None:
    player.refresh_from_db()
    try:
        services.check_cooldown(player)
    except services.QueueCooldown as exc:
        return exc.message
    return None


def test_the_first_abandonment_is_forgiven(abandon, alice):
    abandon(alice)
    assert queue_refusal(alice) is None


def test_the_second_gives_five_minutes_with_the_time_left_in_words(abandon, alice):
    abandon(alice, ago=timedelta(hours=3))
    abandon(alice, ago=timedelta(minutes=1))
    message = queue_refusal(alice)
    assert message is not None
    assert message.startswith("You left 2 rated matches early in the last 24 hours")
    assert "you may queue again in 4 minutes (at " in message


def test_cooldowns_escalate_and_end(abandon, alice):
    for _ in range(3):
        abandon(alice, ago=timedelta(minutes=10))
    assert "in 5 minutes" in (queue_refusal(alice) or "")  # third: 15 minutes from the last
    abandon(alice, ago=timedelta(minutes=10))
    assert "in 50 minutes" in (queue_refusal(alice) or "")  # fourth: an hour
    Participant.objects.filter(player=alice).update(left_at=timezone.now() - timedelta(hours=2))
    assert queue_refusal(alice) is None  # an hour after the last, over


def test_the_ladder(abandon):
    steps = [cooldowns.cooldown_step(n) for n in range(1, 8)]
    minutes = [int(step.total_seconds() // 60) for step in steps]
    assert minutes == [0, 5, 15, 60, 240, 240, 240]


def test_only_rated_matches_within_a_day_count(abandon, alice):
    abandon(alice, ago=timedelta(hours=25))
    abandon(alice, private=True)  # a friendly match: not rated
    abandon(alice)
    assert queue_refusal(alice) is None


def test_queueing_refuses_a_player_in_cooldown_through_the_service(abandon, alice):
    abandon(alice)
    abandon(alice)
    alice.refresh_from_db()
    with pytest.raises(services.QueueCooldown) as refused:
        services.check_cooldown(alice)
    assert refused.value.code == "cooldown"
    assert 240 < refused.value.seconds_left <= 300


def test_time_left_in_words():
    words = cooldowns.time_left_in_words
    assert [words(1), words(45), words(60), words(61), words(3600), words(3900)] == [
        "1 second",
        "45 seconds",
        "1 minute",
        "2 minutes",
        "1 hour",
        "1 hour 5 minutes",
    ]


def test_clearing_a_cooldown_lets_the_player_queue_and_is_audited(abandon, alice):
    abandon(alice)
    abandon(alice)
    assert services.clear_cooldown(alice, reason="their router died")
    assert queue_refusal(alice) is None
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target_name, entry.reason) == (
        "clear_cooldown",
        "Alice",
        "their router died",
    )
    assert entry.details["abandonments"] == 2
    # Nothing to clear: no entry. A new abandonment after clearing counts from zero.
    assert not services.clear_cooldown(alice)
    abandon(alice)
    assert queue_refusal(alice) is None
    abandon(alice)
    assert queue_refusal(alice) is not None
    assert AuditEntry.objects.count() == 1


# --- In the admin ------------------------------------------------------------------------


def clear(client, player: Player) -> str:
    form = {"action": "clear_cooldowns", "_selected_action": [player.pk]}
    return client.post("/admin/games/player/", form, follow=True).content.decode()


def test_operators_see_cooldowns_and_clear_them(abandon, alice, bob):
    abandon(alice)
    abandon(alice)
    abandon(bob)  # forgiven: no cooldown
    operator = staff_client("operator", "olga")
    listed = operator.get("/admin/games/player/?cooldown=yes").content.decode()
    assert "Alice" in listed and ">Bob<" not in listed
    page = operator.get(f"/admin/games/player/{alice.pk}/change/").content.decode()
    assert "minutes left (until " in page and "2 abandonments" in page
    assert "Cleared 1 cooldown(s)." in clear(operator, alice)
    assert queue_refusal(alice) is None
    assert AuditEntry.objects.get().actor_name == "olga"


def test_a_moderator_sees_a_cooldown_but_may_not_clear_it(abandon, alice):
    abandon(alice)
    abandon(alice)
    moderator = staff_client("moderator")
    changelist = moderator.get("/admin/games/player/").content.decode()
    assert "clear_cooldowns" not in changelist
    page = moderator.get(f"/admin/games/player/{alice.pk}/change/").content.decode()
    assert "minutes left (until " in page
    clear(moderator, alice)
    assert queue_refusal(alice) is not None
    assert not AuditEntry.objects.exists()
