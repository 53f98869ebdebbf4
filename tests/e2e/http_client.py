"""A small cookie-keeping HTTP client that uses the site like a browser would (CSRF included)."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request
from typing import Any


class SiteClient:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

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
            headers={"Content-Type": "application/json", "X-CSRFToken": self.cookie("csrftoken")},
            method="POST",
        )
        with self.opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def play_as_guest(self) -> dict[str, Any]:
        self.opener.open(self.base + "/", timeout=10).read()  # sets the CSRF cookie
        form = f"csrfmiddlewaretoken={self.cookie('csrftoken')}".encode()
        self.opener.open(urllib.request.Request(self.base + "/guest/", data=form), timeout=10)
        player: dict[str, Any] = self.get_json("/api/me/")["player"]
        return player
