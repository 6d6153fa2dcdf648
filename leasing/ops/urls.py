from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from leasing.ops import (
    audit,
    partners,
    pool,
    pool_import,
    queue,
    renewals,
    reports,
    requests,
    search,
)

app_name = "ops"
urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    # Django's LogoutView only accepts POST: a link or a prefetch cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", queue.queue_view, name="queue"),
    path("queue/claim/", queue.queue_claim_view, name="queue-claim"),
    path("requests/<str:pk>/", requests.request_view, name="request"),
    path("requests/<str:pk>/claim/", requests.claim_view, name="request-claim"),
    path("requests/<str:pk>/unclaim/", requests.unclaim_view, name="request-unclaim"),
    path("requests/<str:pk>/notes/", requests.note_add_view, name="request-note"),
    path(
        "requests/<str:pk>/assign/preview/",
        requests.assign_preview_view,
        name="request-assign-preview",
    ),
    path("requests/<str:pk>/assign/", requests.assign_view, name="request-assign"),
    path("requests/<str:pk>/close/", requests.close_view, name="request-close"),
    path("leases/<int:pk>/release/", requests.release_view, name="lease-release"),
]

# Partners, pool, renewals, audit log, search and reports (issue 5).
urlpatterns += [
    path("partners/", partners.partners_view, name="partners"),
    path("partners/<str:pk>/", partners.partner_view, name="partner"),
    path("partners/<str:pk>/leases/", partners.partner_leases_view, name="partner-leases"),
    path("partners/<str:pk>/projects/", partners.partner_projects_view, name="partner-projects"),
    path(
        "partners/<str:pk>/wallet/top-up/preview/",
        partners.top_up_preview_view,
        name="partner-top-up-preview",
    ),
    path("partners/<str:pk>/wallet/top-up/", partners.top_up_view, name="partner-top-up"),
    path(
        "partners/<str:pk>/wallet/adjust/preview/",
        partners.adjust_preview_view,
        name="partner-adjust-preview",
    ),
    path("partners/<str:pk>/wallet/adjust/", partners.adjust_view, name="partner-adjust"),
    path(
        "partners/<str:pk>/price/preview/",
        partners.price_preview_view,
        name="partner-price-preview",
    ),
    path("partners/<str:pk>/price/", partners.price_view, name="partner-price"),
    path("partners/<str:pk>/keys/", partners.api_key_issue_view, name="partner-key-issue"),
    path(
        "partners/<str:pk>/keys/<int:key_id>/revoke/",
        partners.api_key_revoke_view,
        name="partner-key-revoke",
    ),
    path("pool/", pool.pool_view, name="pool"),
    path("pool/import/", pool_import.import_view, name="pool-import"),
    path("pool/import/check/", pool_import.import_check_view, name="pool-import-check"),
    path("pool/import/commit/", pool_import.import_commit_view, name="pool-import-commit"),
    path(
        "pool/import/progress/<str:token>/",
        pool_import.import_progress_view,
        name="pool-import-progress",
    ),
    path("pool/<str:pk>/", pool.account_view, name="pool-account"),
    path("pool/<str:pk>/ready/", pool.mark_ready_view, name="pool-mark-ready"),
    path("pool/<str:pk>/warming/", pool.mark_warming_view, name="pool-mark-warming"),
    path("pool/<str:pk>/retire/", pool.retire_view, name="pool-retire"),
    path("supply/", pool.supply_view, name="supply"),
    path("renewals/", renewals.renewals_view, name="renewals"),
    path("audit/", audit.audit_view, name="audit"),
    path("search/", search.search_view, name="search"),
    path("search/suggest/", search.search_suggest_view, name="search-suggest"),
    path("search/partners/", search.partner_suggest_view, name="partner-suggest"),
    path("reports/", reports.reports_view, name="reports"),
    path("reports/queue.csv", reports.queue_csv_view, name="report-queue"),
    path("reports/leases.csv", reports.leases_csv_view, name="report-leases"),
    path("reports/burn.csv", reports.burn_csv_view, name="report-burn"),
    path("reports/burn-monthly.csv", reports.burn_monthly_csv_view, name="report-burn-monthly"),
    path("reports/ledger.csv", reports.ledger_csv_view, name="report-ledger"),
    path("reports/renewals.csv", reports.renewals_csv_view, name="report-renewals"),
    path("reports/pool.csv", reports.pool_csv_view, name="report-pool"),
]
