"""Telling a dead lease holder from a slow one, by the connections Redis lists: only a
holder seen connected before and missing since counts as dead, so a process that never
named its connection, or that is only late, keeps its matches until its leases expire."""

from games.runtime.runners import DEAD_AFTER_SECONDS, Liveness

LOOK = 0.25  # the watchdog's period
ME = "me"  # the looking process's own holder id, listed at every look it trusts


def test_a_holder_seen_and_then_missing_at_two_looks_is_dead():
    liveness = Liveness(ME)
    liveness.look({ME, "a", "b"}, 0.0)
    liveness.look({ME, "b"}, LOOK)  # a's process died
    assert not liveness.dead("a", LOOK)  # one look could fall into a reconnection
    liveness.look({ME, "b"}, LOOK + DEAD_AFTER_SECONDS)
    assert liveness.dead("a", LOOK + DEAD_AFTER_SECONDS)
    assert not liveness.dead("b", LOOK + DEAD_AFTER_SECONDS)


def test_a_holder_never_seen_connected_is_never_dead():
    """Its Redis refused the name, or it started a moment ago: left to its lease's expiry."""
    liveness = Liveness(ME)
    for look in range(10):
        liveness.look({ME, "b"}, look * LOOK)
    assert not liveness.dead("a", 10 * LOOK)


def test_a_holder_back_before_the_second_look_is_alive():
    liveness = Liveness(ME)
    liveness.look({ME, "a"}, 0.0)
    liveness.look({ME}, LOOK)  # its connection dropped
    liveness.look({ME, "a"}, 2 * LOOK)  # and came back
    liveness.look({ME, "a"}, 3 * LOOK)
    assert not liveness.dead("a", 3 * LOOK)


def test_a_look_without_the_own_connection_proves_nothing():
    """Redis restarted, or this process was cut off: everyone is reconnecting, and
    whoever is not back yet is not dead."""
    liveness = Liveness(ME)
    liveness.look({ME, "a"}, 0.0)
    liveness.look({ME}, LOOK)  # a missing: Redis restarted and a reconnects later than me?
    liveness.look(set(), 2 * LOOK)  # no: I am not listed either
    liveness.look({ME}, 3 * LOOK)
    assert not liveness.dead("a", 3 * LOOK)  # missing since the look that listed me again
    liveness.look({ME}, 3 * LOOK + DEAD_AFTER_SECONDS)
    assert liveness.dead("a", 3 * LOOK + DEAD_AFTER_SECONDS)
