"""Property-based check of /v1/openapi.json against the running API (schemathesis).

Hypothesis generates valid and invalid requests for every operation in the document and
sends them through Django's WSGI application with a real key. Each response must not be
a 5xx and must match the document: status code listed, body and headers as described,
invalid input refused with a 4xx, and no call accepted without the key.

Valid path ids are swapped for real ones of the partner, so the generated bodies reach
validation and the services instead of all stopping at 404.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from leasing.api.errors import json_bytes
from leasing.api.openapi import document
from tests import factories
from tests.api.conftest import assign

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]


# Loaded at collection, from the same builder /v1/openapi.json serves (test_openapi.py
# checks the endpoint returns exactly this). schemathesis' lazy `from_fixture` loader does
# not run under pytest 9, and loading over WSGI here would touch the database before
# pytest-django allows it.
schema = schemathesis.openapi.from_dict(json.loads(json_bytes(document())))
schema.app = get_wsgi_application()


@pytest.fixture
def _keep_the_test_connection():
    # The WSGI handler closes "old" connections around each request (CONN_MAX_AGE=0),
    # which would close the test transaction's connection on PostgreSQL. Django's test
    # client unhooks the same signal handlers for the same reason.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(partner, project, _keep_the_test_connection):
    """A partner key with room for every generated call, and real ids to aim at."""
    _, raw = factories.make_key(partner, scopes=["*"], tier="partner")
    lease_request = factories.make_request(project, count=3, request_key="po-1")
    leases = assign(lease_request, 2)
    return {
        "key": raw,
        "ids": {
            "projectId": project.pk,
            "requestId": lease_request.request_key,
            "socialAccountId": leases[0].account_id,
        },
    }


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_matches_its_openapi_document(case, world):
    meta = case.meta
    path_is_valid = meta is None or not meta.is_negative_at(ParameterLocation.PATH)
    if path_is_valid and case.path_parameters:
        for name in case.path_parameters:
            case.path_parameters[name] = world["ids"][name]
    body_is_valid = meta is None or not meta.is_negative_at(ParameterLocation.BODY)
    if body_is_valid and isinstance(case.body, dict) and "projectId" in case.body:
        case.body["projectId"] = world["ids"]["projectId"]
    case.call_and_validate(headers={"Authorization": f"Bearer {world['key']}"}, checks=CHECKS)
