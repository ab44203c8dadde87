"""Staff roles: what each kind of platform staff may do (DESIGN.md, "Who uses it").

A person may hold several roles. ``senior`` includes everything an ``advisor`` does; the
other roles are separate, so finance never adjudicates and an admin never pays out unless
they also hold that role.
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Role(StrEnum):
    ADVISOR = "advisor"  # escalations, claims, information and document requests
    SENIOR = "senior"    # everything an advisor does, appeals, second approvals
    FINANCE = "finance"  # payout batches, payout failures, recoveries
    ADMIN = "admin"      # staff accounts, roles, policy versions, incidents, settings


# Roles a role brings with it.
INCLUDES: dict[Role, frozenset[Role]] = {Role.SENIOR: frozenset({Role.ADVISOR})}

LABELS = {
    Role.ADVISOR: _l("Advisor"),
    Role.SENIOR: _l("Senior advisor"),
    Role.FINANCE: _l("Finance"),
    Role.ADMIN: _l("Administrator"),
}

ANY_STAFF = tuple(Role)


def effective(held) -> frozenset[Role]:
    """The roles ``held`` grants, with the ones they include."""
    roles = {Role(role) for role in held}
    for role in tuple(roles):
        roles |= INCLUDES.get(role, frozenset())
    return frozenset(roles)
