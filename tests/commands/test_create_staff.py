from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from tests.commands.conftest import db_state

User = get_user_model()


def test_create_staff_generates_and_prints_a_password(run):
    result = run("create_staff", "olivia", "--role=ops")

    user = User.objects.get(username="olivia")
    assert user.is_staff
    assert not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["ops"]
    assert "Created ops user olivia." in result.out
    password = result.out.split("Password: ")[1].split()[0]
    assert user.check_password(password)


def test_create_staff_with_a_given_password_does_not_print_it(run):
    result = run("create_staff", "ada", "--role=admin", "--password=root-of-desk-85")

    user = User.objects.get(username="ada")
    assert user.is_superuser
    assert user.check_password("root-of-desk-85")
    assert "root-of-desk-85" not in result.out


def test_create_staff_refuses_a_weak_password_and_creates_nobody(run):
    with pytest.raises(CommandError, match="--password: This password is too short"):
        run("create_staff", "fran", "--role=finance", "--password=abc")

    assert not User.objects.exists()


def test_create_staff_refuses_a_taken_username(run, ops_user):
    before = db_state()

    with pytest.raises(CommandError, match="a staff user named 'OLIVE_OPS' already exists"):
        run("create_staff", "OLIVE_OPS", "--role=support")

    assert db_state() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sam", "--role=boss"], "invalid choice: 'boss'"),
        (["sam"], "the following arguments are required: --role"),
        (["sam smith", "--role=support"], "username: Enter a valid username"),
    ],
)
def test_create_staff_rejects_bad_arguments(run, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_staff", *args)

    assert not User.objects.exists()
