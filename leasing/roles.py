"""Staff roles. The groups and their permissions are created by migration 0002_roles."""

from __future__ import annotations

OPS = "ops"
SUPPORT = "support"
FINANCE = "finance"
ADMIN = "admin"
ROLES = (OPS, SUPPORT, FINANCE, ADMIN)
