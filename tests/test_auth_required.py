"""Every URL of the project rejects anonymous requests, except a short list.

The test walks the whole URL configuration, so a view added later without
protection fails here even when it has no test of its own.
"""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

pytestmark = pytest.mark.django_db

# Full names (namespace:name) of the views that anonymous users must reach.
PUBLIC_NAMES = {"login", "health", "admin:login"}
# The Discord interactions endpoint authenticates each request by its
# Ed25519 signature instead of a login.
PUBLIC_NAME_SUFFIX = "interactions"

LOGIN_REDIRECTS = ("/accounts/login/?next=", "/admin/login/?next=")

# Values tried in order for each path converter and regex group. The first
# value that the converter's or group's regex matches fills the URL.
SAMPLES = ("1", "x", str(uuid.UUID(int=1)))
# DRF returns 404 for an unknown format suffix before it checks permissions.
FORMAT_SAMPLES = ("json", ".json")
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*)\)")


@dataclass(frozen=True)
class Route:
    path: str
    name: str


def sample_value(regex: str, name: str) -> str:
    # A group of plain alternatives, as the admin's app_label group is.
    if re.fullmatch(r"[\w|-]+", regex):
        return regex.split("|")[0]
    candidates = FORMAT_SAMPLES if name == "format" else SAMPLES
    for candidate in candidates:
        if re.fullmatch(regex, candidate):
            return candidate
    raise AssertionError(f"No sample value matches {regex!r}; add one to SAMPLES.")


def sample_route(pattern: RoutePattern) -> str:
    route = str(pattern)
    for match in ROUTE_PARAMETER.finditer(route):
        converter = pattern.converters[match["name"]]
        route = route.replace(match[0], sample_value(converter.regex, match["name"]), 1)
    return route


def sample_regex(pattern: RegexPattern) -> str:
    regex = str(pattern)
    path = REGEX_GROUP.sub(
        lambda match: sample_value(match["body"], match["name"]), regex
    )
    path = path.removeprefix("^").removesuffix("$").replace("/?", "/")
    return path.replace("\\.", ".")


def sample_path(pattern: object) -> str:
    if isinstance(pattern, RoutePattern):
        return sample_route(pattern)
    if isinstance(pattern, RegexPattern):
        return sample_regex(pattern)
    raise AssertionError(f"Cannot build a sample path for {pattern!r}.")


def walk(
    patterns: list[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[Route]:
    for entry in patterns:
        path = prefix + sample_path(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}{entry.namespace}:"
            yield from walk(entry.url_patterns, path, inner)
        else:
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield Route("/" + path, name)


def is_public(route: Route) -> bool:
    return route.name in PUBLIC_NAMES or route.name.endswith(PUBLIC_NAME_SUFFIX)


ROUTES = list(walk(get_resolver().url_patterns))
PROTECTED = [route for route in ROUTES if not is_public(route)]


def assert_rejected(response: HttpResponseBase, route: Route, method: str) -> None:
    status = response.status_code
    where = f"{method} {route.path} ({route.name or 'unnamed'})"
    if status in (401, 403):
        return
    expected = "expected 401, 403 or a redirect to the login page"
    assert status == 302, f"{where} returned {status} to an anonymous user; {expected}"
    location = response["Location"]
    assert location.startswith(LOGIN_REDIRECTS), f"{where} redirected to {location}"


def test_walk_finds_known_routes() -> None:
    names = {route.name for route in ROUTES}

    for name in [
        "dashboard:home",
        "dashboard:decision-approve",
        "decision-approve",
        "schema",
        "admin:index",
        "health",
    ]:
        assert name in names, name


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
def test_sample_path_resolves(route: Route) -> None:
    match = resolve(route.path.split("?")[0])

    assert match.view_name == route.name or not route.name


@pytest.mark.parametrize("route", PROTECTED, ids=lambda route: route.path)
def test_anonymous_get_rejected(route: Route, client: Client) -> None:
    assert_rejected(client.get(route.path), route, "GET")


@pytest.mark.parametrize("route", PROTECTED, ids=lambda route: route.path)
def test_anonymous_post_rejected(route: Route, client: Client) -> None:
    # The test client skips the CSRF check, whose 403 would otherwise hide a
    # view that skips the login check.
    assert_rejected(client.post(route.path), route, "POST")


def test_public_routes_exist() -> None:
    names = {route.name for route in ROUTES}

    assert {"login", "health", "admin:login"} <= names


def test_login_page_public(client: Client) -> None:
    assert client.get("/accounts/login/").status_code == 200


def test_health_public(client: Client) -> None:
    assert client.get("/health/").status_code == 200


@login_not_required
def unprotected_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("open to anyone")


def protected_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("members only")


# The URL configuration of the self-check below: one view of each kind, and
# the login route that the redirect of LoginRequiredMiddleware needs.
urlpatterns = [
    path("accounts/login/", unprotected_view, name="login"),
    path("open/", unprotected_view, name="open"),
    path("closed/<int:pk>/", protected_view, name="closed"),
]


@override_settings(ROOT_URLCONF=__name__)
def test_check_catches_unprotected_view(client: Client) -> None:
    routes = {route.name: route for route in walk(get_resolver().url_patterns)}

    assert_rejected(client.get(routes["closed"].path), routes["closed"], "GET")
    with pytest.raises(AssertionError, match="returned 200"):
        assert_rejected(client.get(routes["open"].path), routes["open"], "GET")
