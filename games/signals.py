"""Receivers of Django's own signals; games' own changes go through services instead."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from games import services


@receiver(user_logged_in)
def _record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    services.touch_player(user)
