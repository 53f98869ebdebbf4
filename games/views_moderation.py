"""The players' side of moderation in the JSON API: reporting a player, reading notices,
the operators' broadcast.

Thin as the rest of the API (`games.views`, whose decorator, body decoding and
JSON errors these share): decode, one service call, answer.
"""

from __future__ import annotations

import msgspec
from django.http import HttpRequest, HttpResponse, JsonResponse

from games import access, services
from games.models import Notice
from games.views import ApiError, _acting_player, _body, api_view

# Refusals of a report that the API's common table does not know, and their statuses.
_REPORT_STATUS: dict[type[services.ServiceError], int] = {
    services.TooManyReports: 429,
    services.AlreadyReported: 409,
}


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    player: int
    reason: str
    text: str = ""


class AcknowledgeRequest(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[int]


@api_view("POST")
def report_player(request: HttpRequest, match_id: str) -> HttpResponse:
    """Report another player of a match the caller played in: 201 with the report."""
    reporter = _acting_player(request)
    body = _body(request, ReportRequest)
    match = access.get_visible_match(request.user, match_id)
    try:
        report = services.report_player(reporter, match.pk, body.player, body.reason, body.text)
    except (services.TooManyReports, services.AlreadyReported) as exc:
        raise ApiError(_REPORT_STATUS[type(exc)], exc.code, exc.message) from exc
    payload = {
        "id": report.pk,
        "match": str(match.pk),
        "player": report.reported_id,
        "reason": report.reason,
        "status": report.status,
    }
    return JsonResponse({"report": payload}, status=201)


@api_view("GET", "POST")
def notices(request: HttpRequest) -> HttpResponse:
    """GET: the caller's unread warnings and report notices. POST {"ids": [...]}: mark read."""
    player = _acting_player(request)
    if request.method == "POST":
        body = _body(request, AcknowledgeRequest)
        return JsonResponse({"acknowledged": services.acknowledge_notices(player, body.ids)})
    return JsonResponse({"notices": [_notice_json(n) for n in services.pending_notices(player)]})


@api_view("GET")
def broadcast(request: HttpRequest) -> HttpResponse:
    """The operators' broadcast still shown to people who arrive, or null. Anyone may ask."""
    current = services.current_broadcast()
    if current is None:
        return JsonResponse({"broadcast": None})
    payload = {"id": current.id, "text": current.text, "until": current.until.isoformat()}
    return JsonResponse({"broadcast": payload})


def _notice_json(notice: Notice) -> dict[str, object]:
    return {
        "id": notice.pk,
        "kind": notice.kind,
        "message": notice.message,
        "created_at": notice.created_at.isoformat(),
    }
