from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login_with_next(anonymous):
    response = anonymous.get("/?vertical=coffee")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/%3Fvertical%3Dcoffee"


def test_anonymous_htmx_request_gets_a_client_redirect(anonymous):
    response = anonymous.get(
        "/",
        headers={
            "HX-Request": "true",
            "HX-Target": "queue-results",
            "HX-Current-URL": "http://testserver/?q=abc",
        },
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=%2F%3Fq%3Dabc"
    assert response.content == b""


def test_staff_without_dashboard_permission_gets_friendly_403():
    user = get_user_model().objects.create_user("no_role", password="x-Strong-passw0rd")
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 403
    assert b"Your role can" in response.content
    assert b"no_role" in response.content


def test_login_page_renders_in_the_product_look(anonymous):
    response = anonymous.get(reverse("ops:login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Lease Desk" in body
    assert "css/app.css" in body


def test_login_with_bad_password_says_so(anonymous, ops_user):
    response = anonymous.post(reverse("ops:login"), {"username": "olive_ops", "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in anonymous.session


def test_login_then_lands_on_the_queue(anonymous, ops_user):
    response = anonymous.post(
        reverse("ops:login"), {"username": "olive_ops", "password": "a-Strong-test-passw0rd"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_is_post_only(ops_client):
    assert ops_client.get(reverse("ops:logout")).status_code == 405
    response = ops_client.post(reverse("ops:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("ops:login")
    assert ops_client.get("/").status_code == 302


def test_header_shows_name_and_role(ops_client, support_client):
    assert ">olive_ops<" in ops_client.get("/").content.decode()
    assert ">Ops<" in ops_client.get("/").content.decode()
    assert ">Support<" in support_client.get("/").content.decode()


def test_unknown_page_is_the_friendly_404(ops_client):
    response = ops_client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"There is nothing here" in response.content
