"""A small cookie-keeping HTTP client that uses the site like a browser would (CSRF included)."""

from __future__ import annotations

import http.cookiejar
import json
import ssl
import urllib.request
from typing import Any


class SiteClient:
    def __init__(self, base: str, context: ssl.SSLContext | None = None) -> None:
        """`context`: the TLS context that trusts the test server's certificate (https)."""
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar)]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)
        # Over HTTPS Django's CSRF check wants the request's origin, as a browser sends it.
        self.origin = {"Origin": base} if base.startswith("https://") else {}

    def cookie(self, name: str) -> str:
        for cookie in self.jar:
            if cookie.name == name:
                return cookie.value or ""
        raise KeyError(name)

    def get_json(self, path: str) -> Any:
        with self.opener.open(self.base + path, timeout=10) as response:
            return json.loads(response.read())

    def post_json(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body or {}).encode(),
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": self.cookie("csrftoken"),
                **self.origin,
            },
            method="POST",
        )
        with self.opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def play_as_guest(self) -> dict[str, Any]:
        self.opener.open(self.base + "/", timeout=10).read()  # sets the CSRF cookie
        form = f"csrfmiddlewaretoken={self.cookie('csrftoken')}".encode()
        guest = urllib.request.Request(self.base + "/guest/", data=form, headers=self.origin)
        self.opener.open(guest, timeout=10)
        player: dict[str, Any] = self.get_json("/api/me/")["player"]
        return player
