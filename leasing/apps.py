from __future__ import annotations

from django.apps import AppConfig


class LeasingConfig(AppConfig):
    name = "leasing"
    verbose_name = "Lease Desk"
    default_auto_field = "django.db.models.BigAutoField"
