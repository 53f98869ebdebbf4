"""Every error of the JSON API is JSON, whatever answers it: a view, the URL router or Django."""

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/nope/",
        "/api/matches/not-a-uuid/",
        "/api/matches/not-a-uuid/join/",
        "/api/players/abc/",
        "/api/matches/12345678-1234-1234-1234-1234567890ab/extra/",
    ],
)
def test_unknown_api_paths_and_malformed_ids_are_json_404s(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_missing_slash_is_a_json_404_that_names_the_endpoint(client):
    response = client.get("/api/games")
    assert response.status_code == 404
    assert "/api/games/" in error_of(response)["message"]


def test_a_well_formed_id_of_no_match_says_so(client):
    response = client.get("/api/matches/12345678-1234-1234-1234-1234567890ab/")
    assert response.status_code == 404 and error_of(response)["code"] == "match_not_found"


def test_pages_outside_the_api_keep_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_a_json_405(client):
    response = client.delete("/api/games/")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "GET"


def test_a_body_that_is_not_json_is_a_json_400(alice_client):
    response = alice_client.post("/api/matches/", "{nope", content_type="application/json")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"


def test_deeply_nested_json_is_a_400_naming_the_problem(alice_client, settings):
    # ~10 KB: under the size limit, far over the depth limit (used to be a 500).
    body = '{"game": "arena", "settings": {"a": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = alice_client.post("/api/matches/", body, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "too_deep" and str(settings.API_MAX_JSON_DEPTH) in error["message"]


def test_deep_objects_too(alice_client):
    body = '{"game": "arena", "settings": ' + '{"a":' * 2000 + "1" + "}" * 2000 + "}"
    response = alice_client.post("/api/matches/", body, content_type="application/json")
    assert response.status_code == 400 and error_of(response)["code"] == "too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting(alice_client):
    body = json.dumps({"game": "arena", "settings": {"name": "[" * 500 + '\\"{'}})
    response = alice_client.post("/api/matches/", body, content_type="application/json")
    # Refused for its unknown setting, not for its depth.
    assert error_of(response)["code"] == "invalid_request"


def test_an_oversized_body_is_a_json_413(alice_client, settings):
    padding = "x" * settings.API_MAX_BODY_BYTES
    body = json.dumps({"game": "arena", "settings": {"a": padding}})
    response = alice_client.post("/api/matches/", body, content_type="application/json")
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"


def test_a_normal_match_still_gets_created(alice_client):
    body = json.dumps({"game": "connect_four", "private": True})
    response = alice_client.post("/api/matches/", body, content_type="application/json")
    assert response.status_code == 201, response.content


def test_a_post_without_the_csrf_token_is_a_json_403(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)
    response = client.post("/api/matches/", "{}", content_type="application/json")
    assert response.status_code == 403 and error_of(response)["code"] == "csrf_failed"


@pytest.mark.urls("tests.api_error_urls")
def test_a_server_error_is_json_without_a_traceback():
    response = Client(raise_request_exception=False).get("/api/broken/")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "secret detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


@pytest.mark.urls("tests.api_error_urls")
def test_a_server_error_outside_the_api_keeps_the_html_page():
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    assert "secret detail" not in response.content.decode()
