"""Fixtures for the scale tests: they run on PostgreSQL, in transactional tests (the
generator truncates tables, which a test transaction could not roll back)."""

from __future__ import annotations

import importlib

import pytest


@pytest.fixture
def staff_roles(transactional_db):
    """The role groups of migration 0002: a transactional test's flush removes them."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    roles = importlib.import_module("leasing.migrations.0002_roles").ROLES
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, codenames in roles.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="leasing", codename__in=codenames)
        )
