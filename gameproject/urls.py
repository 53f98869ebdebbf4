"""Root URL configuration: mounts the apps; no views here."""

from django.contrib import admin
from django.urls import include, path

from frontend.views import favicon

admin.site.site_header = "Game server operations"
admin.site.site_title = "Game server admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("api/", include("games.urls")),
    path("", include("frontend.urls")),
]

# JSON under /api/, Django's pages elsewhere (games/views.py).
handler400 = "games.views.bad_request"
handler403 = "games.views.permission_denied"
handler404 = "games.views.page_not_found"
handler500 = "games.views.server_error"
