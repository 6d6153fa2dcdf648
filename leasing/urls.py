from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("leasing.api.urls")),
    path("", include("leasing.ops.urls")),
]

# A database outage answers 503 with the friendly page, whichever layer noticed it.
handler500 = "leasing.ops.faults.server_error"
