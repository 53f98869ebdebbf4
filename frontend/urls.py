"""Site pages and account pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("guest/", views.play_as_guest, name="guest"),
    path("account/save/", views.claim_account, name="claim-account"),
    path("me/", views.my_profile, name="my-profile"),
    path("players/<int:player_id>/", views.profile, name="profile"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("play/<uuid:match_id>/", views.match_page, name="match"),
    path("replay/<uuid:match_id>/", views.replay_page, name="replay"),
    path("how-to-play/<slug:game>/", views.how_to_play, name="how-to-play"),
    path("banned/", views.banned, name="banned"),
]
