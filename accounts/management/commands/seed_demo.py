"""`python manage.py seed_demo`: the demo tenant "Acme Ltd" on an empty database.

Idempotent the simple way: if any tenant exists it does nothing (and says so), so `make run` can
call it on every start without touching real data. Queues live on the PBX (the simulator), not
in the database, so none are created here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Department, Role, Tenant, User
from accounts.scoping import dangerously_all_tenants
from telephony.models import Account, AccountKind, PbxServer, PbxTenant

DEMO_PASSWORD = "demo1234"
PBX = {
    "name": "Demo PBX (simulator)",
    "host": "127.0.0.1",
    "port": 5038,
    "username": "panel",
    "secret": "panelsecret",
}

RECEPTION = {"can_see_calls": True, "can_pickup": True, "can_transfer": True, "can_park": True}
SALES = {"can_see_calls": True, "can_intercom": True}
SUPPORT = {"can_see_calls": True, "can_pickup": True, "can_control_ivr": True}


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    department: str
    role: str = Role.USER
    alternative: str = ""
    rights: dict[str, Any] = field(default_factory=dict)


# Extensions are handed out in this order: 1001, 1002, ... 1025.
DEMO_USERS = [
    DemoUser(
        "owner",
        "Olivia",
        "Owner",
        "Reception",
        Role.OWNER,
        "+4930555010",
        {**RECEPTION, "can_control_recording": True, "can_delete_recordings": True},
    ),
    DemoUser(
        "anna",
        "Anna",
        "Meyer",
        "Reception",
        Role.MANAGER,
        rights={**RECEPTION, "can_control_recording": True},
    ),
    DemoUser("ben", "Ben", "Ortiz", "Reception", rights=RECEPTION),
    DemoUser("carla", "Carla", "Nowak", "Reception", rights={**RECEPTION, "show_my_calls": False}),
    DemoUser("david", "David", "Kim", "Reception", rights={"can_pickup": True}),
    DemoUser("emma", "Emma", "Rossi", "Reception", alternative="+4917612345601", rights=RECEPTION),
    DemoUser("felix", "Felix", "Wagner", "Reception", rights={"can_see_presence": False}),
    DemoUser(
        "greta",
        "Greta",
        "Lund",
        "Sales",
        Role.MANAGER,
        "+4917612345602",
        {**SALES, "can_control_recording": True, "show_call_recording": True},
    ),
    DemoUser("hugo", "Hugo", "Berg", "Sales", rights=SALES),
    DemoUser("ida", "Ida", "Sato", "Sales", alternative="+4917612345603", rights=SALES),
    DemoUser("jonas", "Jonas", "Weber", "Sales", rights={**SALES, "recording_policy": "external"}),
    DemoUser("kira", "Kira", "Haas", "Sales", rights={"can_intercom": True}),
    DemoUser("leo", "Leo", "Brandt", "Sales", rights={**SALES, "can_park": False}),
    DemoUser("mia", "Mia", "Fischer", "Sales", rights={**SALES, "show_my_calls": False}),
    DemoUser("noah", "Noah", "Klein", "Sales"),
    DemoUser(
        "olga", "Olga", "Petrova", "Support", Role.MANAGER, rights={**SUPPORT, "recording_policy": "all"}
    ),
    DemoUser("paul", "Paul", "Schmidt", "Support", rights=SUPPORT),
    DemoUser("quinn", "Quinn", "Adams", "Support", alternative="+4917612345604", rights=SUPPORT),
    DemoUser("rosa", "Rosa", "Diaz", "Support", rights={**SUPPORT, "recording_policy": "all"}),
    DemoUser("sam", "Sam", "Lee", "Support", rights={"can_see_calls": True}),
    DemoUser("tara", "Tara", "Singh", "Support", rights={**SUPPORT, "can_transfer": False}),
    DemoUser("uwe", "Uwe", "Becker", "Support", rights={"can_control_ivr": True}),
    DemoUser("vera", "Vera", "Costa", "Support", rights={**SUPPORT, "show_call_recording": True}),
    DemoUser("will", "Will", "Turner", "Sales", rights={"can_pickup": True, "can_see_calls": True}),
    DemoUser("zoe", "Zoe", "Martin", "Reception", rights={**RECEPTION, "can_intercom": True}),
]
FIRST_EXTENSION = 1001


class Command(BaseCommand):
    help = "Create the demo tenant Acme Ltd, its people and the simulator PBX (only on an empty database)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Tenant.objects.exists():
            self.stdout.write("A tenant exists already: seed_demo did nothing.")
            return
        with dangerously_all_tenants(), transaction.atomic():
            logins = seed()
        self.stdout.write(self.style.SUCCESS("Demo data created. Logins (password for all: demo1234):"))
        self.stdout.write(login_table(logins))


def seed() -> list[tuple[str, str, str, str]]:
    """Creates everything; returns (username, role, department, extension) rows for the table."""
    tenant = Tenant.objects.create(name="Acme Ltd", slug="acme")
    departments = {
        name: Department.objects.create(tenant=tenant, name=name)
        for name in ("Reception", "Sales", "Support")
    }
    # One hash for all: PBKDF2 per user would make `make run` slow, and every demo user shares
    # this published password anyway.
    password = make_password(DEMO_PASSWORD)
    logins = []
    for offset, spec in enumerate(DEMO_USERS):
        extension = str(FIRST_EXTENSION + offset)
        user = User.objects.create(
            username=spec.username,
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=f"{spec.username}@acme.example",
            tenant=tenant,
            department=departments[spec.department],
            role=spec.role,
            password=password,
            **spec.rights,
        )
        Account.objects.create(
            tenant=tenant, user=user, kind=AccountKind.EXTENSION, number=extension, is_default=True
        )
        if spec.alternative:
            Account.objects.create(
                tenant=tenant,
                user=user,
                kind=AccountKind.ALTERNATIVE,
                number=spec.alternative,
                label="Mobile",
            )
        logins.append((spec.username, user.get_role_display(), spec.department, extension))
    User.objects.create(
        username="root", first_name="System", last_name="Owner", role=Role.SYSTEM_OWNER, password=password
    )
    logins.append(("root", "System owner (platform)", "-", "-"))
    pbx = PbxServer.objects.create(**PBX)
    PbxTenant.objects.create(pbx=pbx, tenant=tenant)
    return logins


def login_table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("username", "role", "department", "extension")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(str(value).ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
