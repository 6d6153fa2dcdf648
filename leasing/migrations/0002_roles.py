"""The four staff roles as groups. Frozen here: later changes get their own migration."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ALL = [
    "view_organization", "view_project", "view_apikey", "view_poolaccount", "view_poolaccounttag",
    "view_leaserequest", "view_requestnote", "view_lease", "view_ledgerentry", "view_auditevent",
    "view_apicalllog", "view_dashboard",
]
ROLES = {
    "ops": VIEW_ALL + [
        "triage_request", "add_internal_note", "add_partner_note", "release_lease",
        "manage_pool", "export_reports",
    ],
    "support": VIEW_ALL + ["add_internal_note"],
    "finance": VIEW_ALL + ["manage_wallet", "set_price", "export_reports"],
    "admin": VIEW_ALL + [
        "triage_request", "add_internal_note", "add_partner_note", "release_lease",
        "manage_pool", "export_reports", "manage_wallet", "set_price", "manage_api_keys",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally made after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = Permission.objects.filter(content_type__app_label="leasing", codename__in=codenames)
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"role {role}: unknown permissions {sorted(missing)}")
        group.permissions.set(perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leasing", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
