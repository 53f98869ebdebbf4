"""URLs of the JSON lobby API, mounted under /api/."""

from django.urls import path, re_path

from games import views, views_moderation

app_name = "api"

urlpatterns = [
    path("games/", views.games, name="games"),
    path("me/", views.me, name="me"),
    path("lobby/", views.lobby, name="lobby"),
    path("play/", views.quick_join, name="play-now"),
    path("matches/", views.matches, name="matches"),
    path("matches/join/", views.join_by_code, name="join-by-code"),
    path("matches/computer/", views.play_computer, name="play-computer"),
    path("matches/<uuid:match_id>/", views.match_detail, name="match"),
    path("matches/<uuid:match_id>/join/", views.join_match, name="join"),
    path("matches/<uuid:match_id>/leave/", views.leave_match, name="leave"),
    path("matches/<uuid:match_id>/ticket/", views.match_ticket, name="ticket"),
    path("matches/<uuid:match_id>/replay/", views.match_replay, name="replay"),
    path("matches/<uuid:match_id>/rematch/", views.rematch, name="rematch"),
    path("matches/<uuid:match_id>/report/", views_moderation.report_player, name="report"),
    path("notices/", views_moderation.notices, name="notices"),
    path("broadcast/", views_moderation.broadcast, name="broadcast"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("players/<int:player_id>/", views.player_detail, name="player"),
    path("players/<int:player_id>/matches/", views.player_matches, name="player-matches"),
    # Last: any other path under /api/ (a typo, a malformed id) is a JSON 404, in
    # DEBUG too, instead of Django's HTML page or a slash-appending redirect.
    re_path(r"", views.unknown_endpoint, name="unknown"),
]
