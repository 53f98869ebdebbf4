"""Login throttling (django-axes): whose address a login comes from, and the lockout page.

settings.AXES_CLIENT_IP_CALLABLE and settings.AXES_LOCKOUT_CALLABLE point here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from frontend.redirects import safe_next


def client_ip(request: HttpRequest) -> str:
    """The address daphne reports for the client: the socket's peer, or with
    --proxy-headers the address the proxy put in its header. Never a header read
    here, which any client could set."""
    return str(request.META.get("REMOTE_ADDR") or "")


def lockout_message() -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return (
        f"Too many failed logins for this username from your address. Logging in is "
        f"blocked for {minutes} minutes; each further attempt starts the wait again."
    )


def lockout_response(request: HttpRequest, *args: Any) -> HttpResponse:
    """The login page the client came from, with the lockout in words (HTTP 429).

    axes passes (response, credentials) or only (credentials) depending on whether
    the request is served sync or async, so the rest is read from the request.
    """
    messages.error(request, lockout_message())
    username = _posted_username(request)
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith(f"/{_admin_prefix()}"):
        return _admin_login_page(request, username, status)
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "next": safe_next(request, default="")}
    return render(request, "registration/login.html", context, status=status)


def _posted_username(request: HttpRequest) -> str:
    return str(request.POST.get("username", ""))[:150]


def _admin_prefix() -> str:
    return reverse("admin:index").lstrip("/")


def _admin_login_page(request: HttpRequest, username: str, status: int) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "form": AdminAuthenticationForm(request, initial={"username": username}),
        "next": safe_next(request, default=""),
        "username": username,
    }
    return render(request, "admin/login.html", context, status=status)
