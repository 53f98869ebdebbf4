"""Login throttling: repeated wrong passwords lock a username out from one address.

Through the real login pages of the site and the admin, with django-axes on as
in production (settings: AXES_FAILURE_LIMIT 5, AXES_COOLOFF_MINUTES 15).
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-77"
LOCKED = "Too many failed logins for this username from your address"
WRONG = "correct username and password"


def login(client: Client, username: str, password: str, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password})


@pytest.fixture
def erin(player_factory):
    return player_factory("Erin", password=PASSWORD).user.username


def test_the_limit_th_wrong_password_locks_out_with_a_message_in_words(client, erin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = login(client, erin, "wrong")
        assert response.status_code == 200 and WRONG in response.content.decode()
    response = login(client, erin, "wrong")
    page = response.content.decode()
    assert response.status_code == 429
    assert LOCKED in page and "15 minutes" in page
    assert '<form method="post"' in page  # still the login page, in the site's look
    assert "site.css" in page


def test_the_right_password_is_refused_while_locked_out(client, erin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, erin, "wrong")
    response = login(client, erin, PASSWORD)
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert client.get("/api/me/").status_code == 401


def test_a_lockout_ends_after_the_cool_off(client, erin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, erin, "wrong")
    # Time passes: the failures are older than the cool-off.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert login(client, erin, PASSWORD).status_code == 302
    assert client.get("/api/me/").status_code == 200


def test_another_address_may_still_log_in_as_the_locked_user(erin, settings):
    attacker, player = Client(REMOTE_ADDR="203.0.113.9"), Client(REMOTE_ADDR="198.51.100.4")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(attacker, erin, "wrong")
    assert login(attacker, erin, PASSWORD).status_code == 429
    assert login(player, erin, PASSWORD).status_code == 302


def test_other_usernames_from_the_locked_address_are_not_locked(client, erin, player_factory):
    other = player_factory("Finn", password=PASSWORD).user.username
    for _ in range(10):
        login(client, erin, "wrong")
    assert login(client, other, PASSWORD).status_code == 302


def test_a_successful_login_forgets_earlier_failures(client, erin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, erin, "wrong")
    assert login(client, erin, PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, erin, "wrong").status_code == 200


def test_the_admin_login_locks_out_too_with_the_message_on_its_page(client, settings):
    User.objects.create_superuser("operator", "op@example.com", PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "operator", "wrong", "/admin/login/").status_code == 200
    response = login(client, "operator", "wrong", "/admin/login/")
    page = response.content.decode()
    assert response.status_code == 429 and LOCKED in page
    assert 'id="login-form"' in page  # the admin's own login page

    response = login(client, "operator", PASSWORD, "/admin/login/")
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert client.get("/admin/").status_code == 302  # not logged in: back to the login


def test_a_lockout_on_the_site_holds_on_the_admin(client, settings):
    User.objects.create_superuser("operator", "op@example.com", PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "operator", "wrong")
    response = login(client, "operator", PASSWORD, "/admin/login/")
    assert response.status_code == 429 and LOCKED in response.content.decode()


def test_forwarding_headers_from_the_client_do_not_change_its_address(client, erin, settings):
    # Without a proxy, X-Forwarded-For and X-Real-IP are whatever the client says;
    # only daphne's --proxy-headers behind a real proxy may turn them into the address.
    for n in range(settings.AXES_FAILURE_LIMIT + 3):
        spoofed = {"HTTP_X_FORWARDED_FOR": f"192.0.2.{n}", "HTTP_X_REAL_IP": f"192.0.2.{n}"}
        client.post("/login/", {"username": erin, "password": "wrong"}, **spoofed)
    response = client.post(
        "/login/", {"username": erin, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="192.0.2.99"
    )
    assert response.status_code == 429
