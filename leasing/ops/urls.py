from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from leasing.ops import queue, requests

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
