"""What a person sees when the database goes away, in a real browser: the friendly 503
page on a full load, and a plain message (not a dead page) when an htmx update fails."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from playwright.sync_api import expect

from leasing.ops import queue
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LOST = OperationalError("server closed the connection unexpectedly")


def test_a_lost_database_shows_the_friendly_page_and_an_htmx_message(signed_in, ops_user, project):
    factories.make_request(project, vertical="coffee")
    page = signed_in(ops_user)
    # The live server answers in this process, so the patch reaches it.
    with mock.patch.object(queue, "queue_page", side_effect=LOST):
        page.fill("input[name=vertical]", "tea")  # an htmx refresh of the results
        expect(page.locator(".flash-error")).to_contain_text("can't reach its database")
        response = page.goto("/")
        assert response is not None
        assert response.status == 503
        expect(page.locator("h1")).to_have_text("Lease Desk can't reach its database")
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Request queue")
