"""On PostgreSQL the session, its user and the user's permissions, and each API call's
key, budget and log row, are read and written with statements prepared once per
connection (leasing/db.py), and answer exactly as Django's own queries do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore as DjangosSessionStore
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Count
from django.forms.models import model_to_dict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leasing import roles
from leasing.api.calllog import CALL_LOG_STATEMENT
from leasing.api.ratelimit import RATE_STATEMENT
from leasing.auth import PERMISSIONS_STATEMENT, USER_STATEMENT, PermissionBackend
from leasing.db import fetch_prepared, model_statement, orm_statement
from leasing.models import ApiCallLog, ApiKey, RateLimitWindow
from leasing.services.partners import KEY_STATEMENT, api_key_authenticate
from leasing.sessions import STATEMENT as SESSION_STATEMENT
from leasing.sessions import SessionStore
from tests import factories

pytestmark = pytest.mark.postgres


def held_here() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def fields_of(user: Any) -> list[Any]:
    return [getattr(user, f.attname) for f in type(user)._meta.concrete_fields]


def sql_run(action: Any) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        result = action()
    return result, [q["sql"] for q in queries.captured_queries]


def test_on_for_postgres_in_this_suite():
    assert settings.DB_PREPARED_STATEMENTS


def test_the_user_is_djangos(db, ops_user):
    user, ran = sql_run(lambda: PermissionBackend().get_user(ops_user.pk))
    assert ran == [f"EXECUTE {USER_STATEMENT} ({ops_user.pk})"]
    assert fields_of(user) == fields_of(ModelBackend().get_user(ops_user.pk))
    assert user._state.adding is False
    assert user._state.db == "default"


def test_no_user_for_an_unknown_id_or_an_inactive_one(db, ops_user):
    assert PermissionBackend().get_user(987_654) is None
    ops_user.is_active = False
    ops_user.save()
    assert PermissionBackend().get_user(ops_user.pk) is None
    assert PermissionBackend().get_user(str(ops_user.pk)) is None  # the session keeps text


def test_permissions_are_djangos_and_prepared_once(db, ops_user, support_user):
    for user in (ops_user, support_user):
        fresh = get_user_model().objects.get(pk=user.pk)
        perms, ran = sql_run(lambda fresh=fresh: PermissionBackend().get_all_permissions(fresh))
        assert ran == [f"EXECUTE {PERMISSIONS_STATEMENT} ({user.pk})"]
        assert perms == ModelBackend().get_all_permissions(get_user_model().objects.get(pk=user.pk))
    assert PERMISSIONS_STATEMENT in held_here()


def test_the_session_is_djangos(db, ops_user):
    store = SessionStore()
    store["note"] = "kept"
    store.create()
    data, ran = sql_run(lambda: SessionStore(store.session_key).load())
    assert data == DjangosSessionStore(store.session_key).load()
    assert data["note"] == "kept"
    assert len(ran) == 1
    assert ran[0].startswith(f"EXECUTE {SESSION_STATEMENT} ('{store.session_key}', ")


def test_an_expired_or_unknown_session_is_no_session(db):
    store = SessionStore()
    store["note"] = "old"
    store.set_expiry(timezone.now() - timedelta(seconds=1))
    store.create()
    for key in (store.session_key, "no-such-session-key-0123456789ab"):
        ours = SessionStore(key)
        assert ours.load() == {}
        assert ours.session_key is None


def test_signing_in_and_out_through_the_pages(db, client, ops_user):
    signed_in = client.post(
        "/login/", {"username": ops_user.username, "password": "a-Strong-test-passw0rd"}
    )
    assert signed_in.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    response = client.get("/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again_and_a_rollback_keeps_them():
    factories.restore_role_groups()
    user = factories.make_staff(roles.OPS, "prep_ops")
    connection.close()
    assert held_here() == set()  # a new connection holds nothing

    def check_and_undo() -> None:
        with transaction.atomic():
            found = PermissionBackend().get_user(user.pk)
            assert found is not None
            assert found.has_perm("leasing.triage_request")
            raise RuntimeError("undo the transaction that prepared them")

    with pytest.raises(RuntimeError):
        check_and_undo()
    assert {USER_STATEMENT, PERMISSIONS_STATEMENT} <= held_here()
    # Executed again on the same connection: no second PREPARE (the names exist).
    again = PermissionBackend().get_user(user.pk)
    assert again is not None
    assert again.has_perm("leasing.triage_request")


@pytest.mark.django_db(transaction=True)
def test_turned_off_django_runs_its_own_queries(settings):
    settings.DB_PREPARED_STATEMENTS = False
    factories.restore_role_groups()
    user = factories.make_staff(roles.FINANCE, "plain_finance")
    connection.close()
    found, ran = sql_run(lambda: PermissionBackend().get_user(user.pk))
    perms, ran_too = sql_run(lambda: PermissionBackend().get_all_permissions(found))
    assert perms == ModelBackend().get_all_permissions(get_user_model().objects.get(pk=user.pk))
    assert [sql.split()[0] for sql in ran + ran_too] == ["SELECT", "(SELECT"]
    assert held_here() == set()


def test_orm_statement_numbers_what_each_run_passes_and_writes_in_the_rest(db):
    from django.contrib.auth.models import Group

    query = Group.objects.filter(name="stand-in", id__gt=-5).exclude(name="it's fixed")
    sql = orm_statement(query, ["stand-in", -5])
    assert "= $1" in sql
    assert "> $2" in sql
    assert "'it''s fixed'" in sql
    with pytest.raises(ImproperlyConfigured, match="not all parameters"):
        orm_statement(query, ["not in the query"])


def test_fetch_prepared_with_and_without_arguments(db):
    assert fetch_prepared("lease_desk_test_none", "SELECT 40 + 2", []) == [(42,)]
    assert fetch_prepared("lease_desk_test_two", "SELECT $1::int * $2::int", [6, 7]) == [(42,)]
    assert fetch_prepared("lease_desk_test_two", "SELECT $1::int * $2::int", [3, 5]) == [(15,)]
    assert {"lease_desk_test_none", "lease_desk_test_two"} <= held_here()


# ----------------------------------------------------------- the partner API's statements


def test_the_api_key_is_the_orms_with_its_scopes_a_list(db, partner):
    issued, raw = factories.make_key(partner, scopes=["social:read"])
    found, ran = sql_run(lambda: api_key_authenticate(raw))
    assert ran == [f"EXECUTE {KEY_STATEMENT} ('{issued.key_id}')"]
    assert fields_of(found) == fields_of(ApiKey.objects.get(pk=issued.pk))
    # The JSON column goes through the field's converter: text would answer substrings.
    assert found.scopes == ["social:read"]
    assert not found.has_scope("social")
    assert not found.has_scope("leased:write")


def test_an_unknown_key_id_finds_no_key(db, partner):
    factories.make_key(partner)
    assert api_key_authenticate("lp_live_0123456789ABCD_" + "s" * 40) is None


def test_a_statement_of_model_rows_refuses_other_columns(db):
    for query in (
        ApiKey.objects.select_related("organization"),
        ApiKey.objects.annotate(n=Count("pk")),
    ):
        with pytest.raises(ImproperlyConfigured, match="select only ApiKey's own columns"):
            model_statement("lease_desk_test_refused", query, [])


def _one_call(api_client: Client, raw: str, project_id: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(
            f"/v1/projects/{project_id}/leased-accounts",
            headers={"Authorization": f"Bearer {raw}"},
        )
        # The test client closes the response, as a server does: the call log is written.
        assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_an_api_call_runs_its_key_budget_and_log_as_prepared_statements(db, partner, project):
    api_key, raw = factories.make_key(partner)
    ran = _one_call(Client(), raw, project.pk)
    executed = [sql.split()[1] for sql in ran if sql.startswith("EXECUTE")]
    assert executed == [KEY_STATEMENT, RATE_STATEMENT, CALL_LOG_STATEMENT]
    window = RateLimitWindow.objects.get(api_key=api_key)
    assert window.count == 1


@pytest.mark.django_db(transaction=True)
def test_the_call_log_row_is_the_one_save_writes(settings):
    partner = factories.make_org()
    project = factories.make_project(partner)
    _, raw = factories.make_key(partner)
    _one_call(Client(), raw, project.pk)
    settings.DB_PREPARED_STATEMENTS = False
    plain = _one_call(Client(), raw, project.pk)
    assert not any(sql.startswith("EXECUTE") for sql in plain)
    prepared_row, saved_row = (
        model_to_dict(row, exclude=["id", "request_id", "created_at", "duration_ms"])
        for row in ApiCallLog.objects.order_by("id")
    )
    assert prepared_row == saved_row
    assert prepared_row["status"] == 200
    assert prepared_row["organization"] == partner.pk
