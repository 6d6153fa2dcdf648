"""The Django admin as a read-only window onto Lease Desk data.

Changes go through the dashboard and the management commands, which use the services:
editing a balance or a lease here would bypass the ledger, the row locks and the audit trail.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from leasing import models


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_per_page = 50
    # The changelist would otherwise count every row on each page view.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ("name", "id", "status", "monthly_price_cents", "balance_cents", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "id")


@admin.register(models.Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ("name", "id", "organization", "created_at")
    list_select_related = ("organization",)
    search_fields = ("name", "id", "organization__name")


@admin.register(models.ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = (
        "display_prefix",
        "organization",
        "tier",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ("organization",)
    list_filter = ("tier", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("key_id", "display_prefix", "organization__name")
    exclude = ("secret_hash",)


@admin.register(models.PoolAccount)
class PoolAccountAdmin(ReadOnlyAdmin):
    list_display = ("handle", "id", "state", "followers", "language", "warmed_since")
    list_filter = ("state", "platform", "language_primary")
    search_fields = ("handle", "id")


@admin.register(models.LeaseRequest)
class LeaseRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "request_key",
        "id",
        "organization",
        "project",
        "status",
        "count",
        "assigned_count",
        "vertical",
        "submitted_at",
        "claimed_by",
    )
    list_select_related = ("organization", "project", "claimed_by")
    list_filter = ("status", "language")
    search_fields = ("id", "request_key", "organization__name", "vertical", "target")
    date_hierarchy = "submitted_at"


@admin.register(models.RequestNote)
class RequestNoteAdmin(ReadOnlyAdmin):
    list_display = ("request", "visibility", "author", "created_at")
    list_select_related = ("request", "author")
    list_filter = ("visibility",)
    search_fields = ("body", "request__id")


@admin.register(models.Lease)
class LeaseAdmin(ReadOnlyAdmin):
    list_display = (
        "account",
        "organization",
        "project",
        "status",
        "assigned_at",
        "next_renewal_at",
        "monthly_price_cents",
        "disconnected_reason",
    )
    list_select_related = ("account", "organization", "project")
    list_filter = ("status", "disconnected_reason")
    search_fields = ("account__handle", "account__id", "organization__name", "project__id")


@admin.register(models.LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "organization",
        "kind",
        "amount_cents",
        "balance_after_cents",
        "memo",
        "actor_label",
    )
    list_select_related = ("organization",)
    list_filter = ("kind",)
    search_fields = ("organization__name", "memo")
    date_hierarchy = "created_at"


@admin.register(models.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_label", "action", "object_type", "object_id", "request_id")
    list_filter = ("actor_type", "object_type")
    search_fields = ("action", "object_id", "actor_label", "request_id")
    date_hierarchy = "created_at"


@admin.register(models.ApiCallLog)
class ApiCallLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "request_id",
        "organization",
        "method",
        "path",
        "status",
        "error_code",
        "duration_ms",
    )
    list_select_related = ("organization",)
    list_filter = ("status", "method")
    search_fields = ("request_id", "path")


@admin.register(models.ReadySupply)
class ReadySupplyAdmin(ReadOnlyAdmin):
    list_display = ("vertical", "language", "accounts")
    search_fields = ("vertical",)
    ordering = ("vertical", "language")


@admin.register(models.RenewalDayTotals)
class RenewalDayTotalsAdmin(ReadOnlyAdmin):
    list_display = ("day", "organization", "leases", "cents")
    list_select_related = ("organization",)
    search_fields = ("organization__name",)
    date_hierarchy = "day"


@admin.register(models.OpenRequestTotals)
class OpenRequestTotalsAdmin(ReadOnlyAdmin):
    list_display = ("status", "shard", "requests")
    list_filter = ("status",)
    ordering = ("status", "shard")
