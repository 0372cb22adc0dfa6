"""Every right of accounts/rules.py, as a table: role × right × target × flags.

The expectations below are written from DESIGN.md ("Rights"), not derived from the predicates:
each cell names the target relations a role reaches and the flags that must be on. A relation
missing from a cell is denied whatever the flags. Users are unsaved model instances: the
predicates are pure functions of the actor and the target, so no database is needed.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import Role, User
from accounts.rules import USER_RIGHTS

ROLES = ("user", "manager", "owner", "system_owner")
RELATIONS = ("self", "same_dept", "other_dept", "other_tenant")
ALL = RELATIONS
TENANT = ("self", "same_dept", "other_dept")

# Actor flags (rights given to the person acting).
ACTOR_FLAGS = (
    "can_see_presence",
    "can_see_calls",
    "can_pickup",
    "can_transfer",
    "can_park",
    "can_intercom",
    "can_control_ivr",
    "can_control_recording",
    "can_delete_recordings",
)
# Target flags (settings of the person acted on), written "t:<field>" in the table.
TARGET_FLAGS = ("show_my_calls", "show_call_recording")


def cell(relations: tuple[str, ...], *needs: str) -> dict[str, tuple[str, ...]]:
    return {relation: needs for relation in relations}


def merge(*cells: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for part in cells:
        merged.update(part)
    return merged


# Self, own department, whole tenant (owner), everything (system owner): the department scope.
SCOPED = {
    "user": cell(("self",)),
    "manager": cell(("self", "same_dept")),
    "owner": cell(TENANT),
    "system_owner": cell(ALL),
}


def flag_scoped(flag: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """A view right: self always; colleagues of the department if the flag is on (managers+ always)."""
    return {
        "user": merge(cell(("self",)), cell(("same_dept",), flag)),
        "manager": cell(("self", "same_dept")),
        "owner": cell(TENANT),
        "system_owner": cell(ALL),
    }


def operation_on_calls(flag: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """transfer / park / IVR: own calls or calls one may see, and only with the operation right."""
    return {
        "user": merge(cell(("self",), flag), cell(("same_dept",), flag, "can_see_calls")),
        "manager": cell(("self", "same_dept"), flag),
        "owner": cell(TENANT, flag),
        "system_owner": cell(ALL, flag),
    }


def recording_control() -> dict[str, dict[str, tuple[str, ...]]]:
    flag = "can_control_recording"
    return {role: {rel: (flag,) for rel in rels} for role, rels in SCOPED.items()}


VIEW_RECORDING = {
    "user": cell(("self",)),
    "manager": merge(cell(("self", "same_dept")), cell(("other_dept",), "t:show_call_recording")),
    "owner": cell(TENANT),
    "system_owner": cell(ALL),
}

EXPECTED: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "accounts.view_presence": flag_scoped("can_see_presence"),
    "accounts.view_calls": flag_scoped("can_see_calls"),
    "accounts.view_call_party": {
        "user": merge(cell(("self",)), cell(("same_dept",), "can_see_calls", "t:show_my_calls")),
        "manager": cell(("self", "same_dept")),
        "owner": cell(TENANT),
        "system_owner": cell(ALL),
    },
    "telephony.originate_from": SCOPED,
    # Anyone may call anyone of the own tenant (presence only decides what they see).
    "telephony.call_to": {
        "user": cell(TENANT),
        "manager": cell(TENANT),
        "owner": cell(TENANT),
        "system_owner": cell(ALL),
    },
    "telephony.hangup": SCOPED,
    "telephony.hold": {role: cell(("self",)) for role in ROLES},
    "telephony.pickup": {
        "user": cell(("same_dept",), "can_pickup", "can_see_calls"),
        "manager": cell(("same_dept",), "can_pickup"),
        "owner": cell(("same_dept", "other_dept"), "can_pickup"),
        "system_owner": cell(("same_dept", "other_dept", "other_tenant"), "can_pickup"),
    },
    "telephony.transfer": operation_on_calls("can_transfer"),
    "telephony.park": operation_on_calls("can_park"),
    "telephony.intercom": {
        "user": cell(("same_dept",), "can_intercom", "can_see_presence"),
        "manager": cell(("same_dept",), "can_intercom"),
        "owner": cell(("same_dept", "other_dept"), "can_intercom"),
        "system_owner": cell(("same_dept", "other_dept", "other_tenant"), "can_intercom"),
    },
    "telephony.control_ivr": operation_on_calls("can_control_ivr"),
    # Barge / listen / whisper: manager, owner and system owner only; never on oneself.
    "telephony.spy": {
        "user": {},
        "manager": cell(("same_dept",)),
        "owner": cell(("same_dept", "other_dept")),
        "system_owner": cell(("same_dept", "other_dept", "other_tenant")),
    },
    "telephony.queue_member": SCOPED,
    "telephony.dnd": SCOPED,
    "recordings.control": recording_control(),
    "recordings.view": VIEW_RECORDING,
    "recordings.delete": {
        role: {rel: (*needs, "can_delete_recordings") for rel, needs in rels.items()}
        for role, rels in VIEW_RECORDING.items()
    },
}

ACME, GLOBEX = uuid.uuid4(), uuid.uuid4()
SALES, SUPPORT, RECEPTION, GLOBEX_SALES = (uuid.uuid4() for _ in range(4))


def person(role: str, *, tenant: uuid.UUID | None, department: uuid.UUID | None, **flags: Any) -> User:
    user = User(
        id=uuid.uuid4(), username=f"{role}-{uuid.uuid4().hex[:4]}", role=role, is_active=True, **flags
    )
    user.tenant_id = tenant
    user.department_id = department
    return user


def actor_for(role: str, flags: dict[str, bool]) -> User:
    if role == Role.SYSTEM_OWNER:
        return person(role, tenant=None, department=None, **flags)
    return person(role, tenant=ACME, department=SALES, **flags)


def target_for(relation: str, actor: User, target_flags: dict[str, bool]) -> User:
    if relation == "self":
        for name, value in target_flags.items():
            setattr(actor, name, value)
        return actor
    tenant, department = {
        "same_dept": (ACME, SALES),
        "other_dept": (ACME, SUPPORT),
        "other_tenant": (GLOBEX, GLOBEX_SALES),
    }[relation]
    return person("user", tenant=tenant, department=department, **target_flags)


def actor_flag_variants() -> list[dict[str, bool]]:
    """All on, all off, and each flag alone off: shows every flag is needed where claimed."""
    variants = [dict.fromkeys(ACTOR_FLAGS, True), dict.fromkeys(ACTOR_FLAGS, False)]
    for flag in ACTOR_FLAGS:
        variants.append({**dict.fromkeys(ACTOR_FLAGS, True), flag: False})
    return variants


def target_flag_variants() -> list[dict[str, bool]]:
    return [
        dict(zip(TARGET_FLAGS, values, strict=True)) for values in itertools.product((True, False), repeat=2)
    ]


def expected(
    right: str, role: str, relation: str, actor_flags: dict[str, bool], target_flags: dict[str, bool]
) -> bool:
    needs = EXPECTED[right][role].get(relation)
    if needs is None:
        return False
    for need in needs:
        if need.startswith("t:"):
            if not target_flags[need[2:]]:
                return False
        elif not actor_flags[need]:
            return False
    return True


def test_the_table_covers_every_right() -> None:
    assert set(EXPECTED) == set(USER_RIGHTS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("right", sorted(USER_RIGHTS))
def test_right_table(right: str, role: str) -> None:
    mismatches = []
    for relation in RELATIONS:
        for actor_flags in actor_flag_variants():
            for target_flags in target_flag_variants():
                actor = actor_for(role, actor_flags)
                target = target_for(relation, actor, target_flags)
                want = expected(right, role, relation, actor_flags, target_flags)
                if actor.has_perm(right, target) != want:
                    off = sorted(k for k, v in {**actor_flags, **target_flags}.items() if not v)
                    mismatches.append(f"{relation} (off: {off or 'none'}): expected {want}")
    assert not mismatches, f"{right} for {role}:\n  " + "\n  ".join(mismatches[:20])


@pytest.mark.parametrize("right", ["telephony.spy"])
def test_spy_is_for_managers_owners_and_system_owners_only(right: str) -> None:
    on = dict.fromkeys(ACTOR_FLAGS, True)
    for role in ROLES:
        actor = actor_for(role, on)
        colleague = target_for("same_dept", actor, {"show_my_calls": True, "show_call_recording": True})
        assert actor.has_perm(right, colleague) is (role != "user"), role


@pytest.mark.parametrize("role", ["user", "manager", "owner"])
@pytest.mark.parametrize("right", sorted(USER_RIGHTS))
def test_tenantless_non_system_owner_reaches_nothing(right: str, role: str) -> None:
    """A user whose tenant is gone (data error) must not fall back to "everything" or "self"."""
    actor = person(role, tenant=None, department=None, **dict.fromkeys(ACTOR_FLAGS, True))
    flags = {"show_my_calls": True, "show_call_recording": True}
    targets = [actor] + [target_for(rel, actor, flags) for rel in ("same_dept", "other_dept", "other_tenant")]
    targets.append(person("user", tenant=None, department=None, **flags))
    for target in targets:
        assert not actor.has_perm(right, target), target.username


@pytest.mark.parametrize("right", sorted(USER_RIGHTS))
def test_inactive_and_anonymous_reach_nothing(right: str) -> None:
    on = dict.fromkeys(ACTOR_FLAGS, True)
    for role in ROLES:
        actor = actor_for(role, on)
        actor.is_active = False
        assert not actor.has_perm(right, target_for("self", actor, {})), role
        assert not actor.has_perm(right, target_for("same_dept", actor, {})), role
    colleague = person("user", tenant=ACME, department=SALES)
    assert not AnonymousUser().has_perm(right, colleague)


# --- admin permissions --------------------------------------------------------------------------

ADMIN_EDITABLE_BY_OWNER = ("accounts.department", "accounts.user", "accounts.apikey", "telephony.account")
ADMIN_READ_ONLY_FOR_OWNER = ("accounts.tenant", "telephony.callrecord", "telephony.auditentry")
ADMIN_SYSTEM_ONLY = ("telephony.pbxserver", "telephony.pbxtenant")


class _Obj:
    """Stands for any tenant-owned admin object."""

    def __init__(self, tenant_id: uuid.UUID | None) -> None:
        self.pk = uuid.uuid4()
        self.tenant_id = tenant_id


@pytest.mark.parametrize("role", ROLES)
def test_admin_permissions(role: str) -> None:
    actor = actor_for(role, {})
    is_owner, is_system = role == "owner", role == "system_owner"
    own, foreign = _Obj(ACME), _Obj(GLOBEX)
    for model in ADMIN_EDITABLE_BY_OWNER + ADMIN_READ_ONLY_FOR_OWNER + ADMIN_SYSTEM_ONLY:
        app, name = model.split(".")
        for verb in ("view", "add", "change", "delete"):
            perm = f"{app}.{verb}_{name}"
            if model in ADMIN_SYSTEM_ONLY:
                want_own = want_foreign = is_system
            elif model in ADMIN_READ_ONLY_FOR_OWNER and verb != "view":
                want_own = want_foreign = is_system and model == "accounts.tenant"
            else:
                want_own, want_foreign = is_owner or is_system, is_system
            assert actor.has_perm(perm) is want_own, (perm, "kind")
            assert actor.has_perm(perm, own) is want_own, (perm, "own")
            assert actor.has_perm(perm, foreign) is want_foreign, (perm, "foreign")
        assert actor.has_module_perms(app) is (is_owner or is_system)


def test_tenant_owner_is_not_a_superuser_and_managers_get_no_admin() -> None:
    owner = actor_for("owner", {})
    assert owner.is_tenant_admin and not owner.is_superuser and not owner.is_staff
    for role in ("user", "manager"):
        assert not actor_for(role, {}).is_tenant_admin
    service = actor_for("owner", {})
    service.is_service_account = True
    assert not service.is_tenant_admin
