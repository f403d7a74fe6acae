"""Create the secured cluster's ACLs, or check them: safe to run again, like the topics.

Missing grants (``kafka/acls.py``) are created; an ACL the cluster holds for one of the
pipeline's principals that is not in the definition is drift: reported, not removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from kafka.acls import SCRAM_USERS, Grant, wanted_grants

RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}


@dataclass
class AclReport:
    """What happened to the ACLs: grants created now, and drift (ACLs nobody asked for)."""

    created: list[str]
    drift: list[str]


def binding(grant: Grant) -> AclBinding:
    return AclBinding(
        RESOURCES[grant.resource], grant.name, ResourcePatternType.LITERAL, f"User:{grant.principal}", "*",
        AclOperation[grant.operation], AclPermissionType.ALLOW,
    )  # fmt: skip


def as_grant(acl: AclBinding) -> Grant | None:
    """The grant an ALLOW/LITERAL/any-host binding stands for; None for anything else (that is drift)."""
    kinds = {v: k for k, v in RESOURCES.items()}
    simple = (
        acl.permission_type == AclPermissionType.ALLOW
        and acl.resource_pattern_type == ResourcePatternType.LITERAL
        and acl.host == "*"
        and acl.restype in kinds
    )
    if not simple:
        return None
    return Grant(acl.principal.removeprefix("User:"), kinds[acl.restype], acl.name, acl.operation.name)


def current_acls(admin: AdminClient, timeout_s: float = 30) -> list[AclBinding]:
    """Every ACL of the cluster."""
    everything = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    return admin.describe_acls(everything, request_timeout=timeout_s).result()


def find_drift(existing: list[AclBinding], wanted: tuple[Grant, ...]) -> list[str]:
    """ACLs held for the pipeline's principals that the definition does not list."""
    ours = {f"User:{user}" for user in SCRAM_USERS}
    drift = []
    for acl in existing:
        if acl.principal in ours and as_grant(acl) not in wanted:
            resource = f"{acl.restype.name.lower()}:{acl.name} ({acl.resource_pattern_type.name.lower()})"
            drift.append(f"unexpected ACL {acl.permission_type.name} {acl.principal} {acl.operation.name} {resource}")
    return sorted(drift)


def ensure_acls(admin: AdminClient, wanted: tuple[Grant, ...] | None = None, timeout_s: float = 30) -> AclReport:
    """Create the missing grants, then report drift (read back from the brokers)."""
    wanted = wanted if wanted is not None else wanted_grants()
    held = {as_grant(acl) for acl in current_acls(admin, timeout_s)}
    missing = [g for g in wanted if g not in held]
    if missing:
        for future in admin.create_acls([binding(g) for g in missing], request_timeout=timeout_s).values():
            future.result()
    return AclReport([str(g) for g in missing], find_drift(current_acls(admin, timeout_s), wanted))
