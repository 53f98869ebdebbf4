"""The site's URLs plus an API endpoint that fails, to see what a client gets from a 500."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from gameproject.urls import handler400, handler403, handler404, handler500, urlpatterns
from games.views import api_view


@api_view("GET")
def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail of a bug")


def broken_page(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail of a bug")


urlpatterns = [path("api/broken/", broken), path("broken/", broken_page), *urlpatterns]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
