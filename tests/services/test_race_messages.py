"""When the pre-check loses a race, the unique constraint still answers in words."""

from __future__ import annotations

import io

import pytest
from django.db.models import QuerySet

from leasing.models import Organization, PoolAccount
from leasing.services.errors import Conflict, ValidationFailed
from leasing.services.partners import organization_onboard
from leasing.services.pool import pool_import_csv
from tests import factories


@pytest.fixture
def precheck_misses(monkeypatch):
    """Make every `.exists()` pre-check answer False, as if the twin row were still
    uncommitted in another transaction."""
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)


@pytest.mark.django_db
def test_duplicate_handle_past_the_precheck_is_a_clear_error(precheck_misses):
    factories.make_account("brew.daily")
    with pytest.raises(ValidationFailed, match=r"@Brew\.Daily is already in the pool"):
        factories.make_account("Brew.Daily")
    assert PoolAccount.objects.count() == 1


@pytest.mark.django_db
def test_duplicate_partner_past_the_precheck_is_a_conflict(precheck_misses):
    organization_onboard(name="Brewline", project_name="P", actor=factories.SYSTEM)
    with pytest.raises(Conflict, match="a partner named 'Brewline' already exists"):
        organization_onboard(name="Brewline", project_name="P", actor=factories.SYSTEM)
    assert Organization.objects.count() == 1


@pytest.mark.django_db
def test_unclosed_quote_is_reported_not_merged():
    csv_text = (
        "handle,platform,followers,verticals,language,geo,state\n"
        "good_one,tiktok,10,coffee,en,US,ready\n"
        '"broken,tiktok,10,coffee,en,US,ready\n'
    )
    report = pool_import_csv(stream=io.StringIO(csv_text), actor=factories.SYSTEM)
    assert not report.ok
    assert any("unreadable CSV" in message for _line, message in report.errors)
    assert PoolAccount.objects.count() == 0
