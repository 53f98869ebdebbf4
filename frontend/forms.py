"""Account forms: Django's own user forms plus the player's display name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.validators import RegexValidator

from games import services

display_name_field = forms.CharField(
    max_length=32,
    min_length=3,
    help_text="Shown to other players. 3-32 letters, digits, spaces, - or _.",
    validators=[RegexValidator(r"^[\w\- ]+$", "Use letters, digits, spaces, - or _ only.")],
)


class SignUpForm(UserCreationForm[User]):
    display_name = display_name_field

    def clean_display_name(self) -> str:
        name: str = self.cleaned_data["display_name"].strip()
        if services.display_name_taken(name):
            raise forms.ValidationError("That display name is taken.")
        return name


class ClaimAccountForm(UserCreationForm[User]):
    """Lets a guest choose a username and password; the guest's player is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The generated guest-xxxx username is not a suggestion worth keeping.
        self.initial["username"] = ""
