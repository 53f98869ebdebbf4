"""Root URL configuration: mounts the apps; no views here."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Game server operations"
admin.site.site_title = "Game server admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("games.urls")),
    path("", include("frontend.urls")),
]
