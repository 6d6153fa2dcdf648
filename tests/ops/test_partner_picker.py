"""The partner filter: a text box with suggestions instead of a list of every partner."""

from __future__ import annotations

import re

import pytest

from leasing.filters import PartnerField
from tests import factories
from tests.ops.test_queue import QUEUE, row_ids

pytestmark = pytest.mark.django_db

SUGGEST = "/search/partners/"


def options(response) -> list[str]:
    return re.findall(r'<option value="([^"]*)">', response.content.decode())


def test_queue_filters_by_partner_name_in_any_case(ops_client, project, other_project):
    factories.make_request(project)
    theirs = factories.make_request(other_project)
    name = other_project.organization.name
    assert row_ids(ops_client.get(QUEUE, {"partner": name.upper()})) == [theirs.pk]


def test_queue_filters_by_partner_id_as_links_carry_it(ops_client, project, other_project):
    factories.make_request(project)
    theirs = factories.make_request(other_project)
    org = other_project.organization
    response = ops_client.get(QUEUE, {"partner": org.pk.lower()})
    assert row_ids(response) == [theirs.pk]
    # The box shows whose requests these are, not the id.
    assert f'value="{org.name}"' in response.content.decode()


def test_unknown_partner_is_reported_and_shows_no_rows(ops_client, project):
    factories.make_request(project)
    response = ops_client.get(QUEUE, {"partner": "Nobody Ltd"})
    body = response.content.decode()
    assert "Some filters could not be used" in body
    assert "no partner is called “Nobody Ltd”" in body
    assert row_ids(response) == []


def test_names_differing_only_in_case_ask_for_the_exact_name():
    factories.make_org("Brewline")
    exact = factories.make_org("BREWLINE")
    field = PartnerField(required=False)
    assert field.clean("BREWLINE") == exact
    with pytest.raises(Exception, match="matches several partners"):
        field.clean("brewLine")


def test_queue_page_does_not_list_every_partner(ops_client, project):
    for i in range(30):
        factories.make_org(f"Roaster {i:02}")
    body = ops_client.get(QUEUE).content.decode()
    assert "Roaster 07" not in body
    assert 'list="id_partner-options"' in body
    assert f'hx-get="{SUGGEST}"' in body


def test_suggestions_put_names_starting_with_the_text_first(ops_client):
    for name in ("Cold Brew Co", "Brewline", "Brewhouse", "Tea Time"):
        factories.make_org(name)
    response = ops_client.get(SUGGEST, {"partner": "brew"})
    assert response.status_code == 200
    assert options(response) == ["Brewhouse", "Brewline", "Cold Brew Co"]
    assert "no-store" in response["Cache-Control"]


def test_suggestions_escape_names(ops_client):
    factories.make_org('Quote " <b>Co</b>')
    body = ops_client.get(SUGGEST, {"partner": "quote"}).content.decode()
    assert "<b>" not in body
    assert "&quot; &lt;b&gt;Co&lt;/b&gt;" in body


def test_suggestions_are_capped(ops_client, django_assert_num_queries):
    for i in range(25):
        factories.make_org(f"Gym {i:02}")
    # session, user, permissions, then one query: 20 names start with the text already.
    with django_assert_num_queries(4):
        response = ops_client.get(SUGGEST, {"partner": "gym"})
    assert len(options(response)) == 20


def test_support_can_use_suggestions(support_client):
    factories.make_org("Brewline")
    assert options(support_client.get(SUGGEST, {"partner": "brew"})) == ["Brewline"]


def test_anonymous_gets_no_partner_names(anonymous):
    factories.make_org("Brewline")
    response = anonymous.get(SUGGEST, {"partner": "brew"})
    assert response.status_code == 302
    assert "Brewline" not in response.content.decode()


def test_suggestions_are_get_only(ops_client):
    assert ops_client.post(SUGGEST).status_code == 405


def test_reports_page_opened_from_a_partner_shows_its_name(finance_client):
    org = factories.make_org("Kaffeekult")
    for i in range(10):
        factories.make_org(f"Other {i}")
    body = finance_client.get("/reports/", {"partner": org.pk}).content.decode()
    assert 'value="Kaffeekult"' in body
    assert "Other 3" not in body


def test_a_name_resolved_for_one_visit_is_not_remembered_for_the_next(ops_client, project):
    org = project.organization
    typed = org.name.lower()
    first = ops_client.get(QUEUE, {"partner": typed}).content.decode()
    assert f'value="{org.name}"' in first  # shown as the partner is written
    org.name = "Renamed Roasters"
    org.save(update_fields=["name"])

    second = ops_client.get(QUEUE, {"partner": typed}).content.decode()

    # The box shows what was typed, which no partner is called any more; not the old
    # name that an earlier visit resolved it to.
    assert f"no partner is called “{typed}”" in second
    assert f'value="{typed}"' in second
    assert f'value="{org.name}"' not in second
