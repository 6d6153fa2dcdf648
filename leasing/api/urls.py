from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from leasing.api import views

app_name = "api"
urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "projects/<str:project_id>/leased-accounts/request",
        views.lease_request_submit,
        name="lease-request-submit",
    ),
    path(
        "projects/<str:project_id>/leased-accounts/requests",
        views.lease_request_list,
        name="lease-request-list",
    ),
    path(
        "projects/<str:project_id>/leased-accounts/requests/<str:request_id>",
        views.lease_request_detail,
        name="lease-request-detail",
    ),
    path(
        "projects/<str:project_id>/leased-accounts",
        views.leased_account_list,
        name="leased-account-list",
    ),
    path(
        "projects/<str:project_id>/social-accounts",
        views.social_account_list,
        name="social-account-list",
    ),
    path(
        "leased-accounts/requests/<str:request_id>",
        views.lease_request_detail_any_project,
        name="lease-request-detail-any-project",
    ),
    path(
        "leased-accounts/<str:social_account_id>",
        views.leased_account_release,
        name="leased-account-release",
    ),
    path("openapi.json", views.openapi_document, name="openapi"),
    path("docs", views.docs, name="docs"),
    # Anything else under /v1 is a 404 in the API's envelope, whatever DEBUG says.
    re_path(r"^", views.no_such_endpoint, name="no-such-endpoint"),
]
