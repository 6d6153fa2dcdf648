"""The OpenAPI document and the human docs describe exactly the routes we serve."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver

from leasing.api import errors
from leasing.api.openapi import ERROR_CODES, document
from tests.api.conftest import assert_error

SERVED = {
    ("post", "/v1/projects/{projectId}/leased-accounts/request"),
    ("get", "/v1/projects/{projectId}/leased-accounts/requests"),
    ("get", "/v1/projects/{projectId}/leased-accounts/requests/{requestId}"),
    ("get", "/v1/leased-accounts/requests/{requestId}"),
    ("get", "/v1/projects/{projectId}/leased-accounts"),
    ("delete", "/v1/leased-accounts/{socialAccountId}"),
    ("get", "/v1/projects/{projectId}/social-accounts"),
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _api_routes() -> set[str]:
    """Every partner route in the URLconf, written the OpenAPI way."""
    api = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == "v1/"
    )
    routes = set()
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        if route in ("openapi.json", "docs", "^"):
            continue
        routes.add("/v1/" + re.sub(r"<str:(\w+)>", lambda m: "{" + _camel(m[1]) + "}", route))
    return routes


def test_the_document_lists_exactly_the_served_operations():
    doc = document()
    operations = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations == SERVED
    assert {path for _, path in SERVED} == _api_routes()


def test_every_operation_documents_every_status_it_can_answer():
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            statuses = set(operation["responses"])
            assert {"401", "403", "405", "422", "429", "500", "503"} <= statuses, path
            if "{" in path:
                assert "404" in statuses
            if method in ("post", "delete"):
                assert "400" in statuses
            for status, response in operation["responses"].items():
                assert "X-Request-Id" in response["headers"], (path, status)
                assert "RateLimit-Remaining" in response["headers"]
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }
    post = document()["paths"]["/v1/projects/{projectId}/leased-accounts/request"]["post"]
    assert {"202", "400", "402", "404", "409", "422"} <= set(post["responses"])


def test_the_error_schema_lists_every_code():
    codes = {value for name, value in vars(errors).items() if name.isupper() and name == value}
    assert set(ERROR_CODES) == codes
    assert len(codes) == 10


def test_the_served_document_is_the_built_one(anonymous_api):
    response = anonymous_api.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == json.loads(json.dumps(document()))
    assert response.json()["openapi"].startswith("3.")


def test_the_docs_page_shows_every_operation_from_our_static_files(anonymous_api):
    response = anonymous_api.get("/v1/docs")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    for method, path in SERVED:
        assert f"<code>{path}</code>" in html
        assert f">{method.upper()}</span>" in html
    for schema in document()["components"]["schemas"]:
        assert f'id="schema-{schema}"' in html
    assert "/static/api/docs.css" in html
    assert finders.find("api/docs.css")
    # Nothing comes from another origin.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html


@pytest.mark.parametrize("path", ["/v1/docs", "/v1/openapi.json"])
def test_docs_are_read_only(anonymous_api, path):
    response = anonymous_api.client.delete(path)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET"


def test_unknown_query_parameters_are_422(api, project):
    error = assert_error(
        api.get(f"/v1/projects/{project.pk}/leased-accounts", stauts="disconnected"),
        422,
        "VALIDATION",
        has_details=True,
    )
    assert error["details"]["fields"] == [
        {"field": "stauts", "problem": "is not a known query parameter"}
    ]
    assert_error(
        api.get("/v1/leased-accounts/requests/po-1", verbose="1"),
        422,
        "VALIDATION",
        has_details=True,
    )


@pytest.mark.parametrize(
    ("path", "name", "problem"),
    [
        (
            "leased-accounts/requests",
            "status",
            "must be one of requested, assigned, partial, rejected",
        ),
        ("social-accounts", "platform", "must be a lower-case platform name (tiktok)"),
        ("social-accounts", "leased", "must be one of true, false"),
    ],
)
def test_an_empty_filter_is_422_not_ignored(api, project, path, name, problem):
    assert_error(
        api.get(f"/v1/projects/{project.pk}/{path}", **{name: ""}),
        422,
        "VALIDATION",
        details={"fields": [{"field": name, "problem": problem}]},
    )
