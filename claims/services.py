"""Claims services. So far the read side only: the policy versions and quotes."""

from datetime import datetime

from sqlalchemy import select

from arbiter import clock
from arbiter.extensions import db
from claims import policy
from claims.models import PolicyVersion
from claims.states import ClaimType
from orders.states import PaymentMethod


def policy_versions() -> list[policy.PolicyRules]:
    """Every policy version as pure rules, newest first."""
    rows = db.session.scalars(select(PolicyVersion).order_by(PolicyVersion.effective_from.desc()))
    return [row.to_rules() for row in rows]


def quote_for(
    *,
    item_price: int,
    shipping_cost: int,
    payment_method: PaymentMethod,
    claim_type: ClaimType,
    paid_at: datetime,
    claimed_amount: int | None = None,
    now: datetime | None = None,
) -> policy.Quote:
    """The quote under the version in force at ``paid_at``, as of ``now`` (default: now)."""
    return policy.quote_in_force(
        policy_versions(),
        item_price=item_price,
        shipping_cost=shipping_cost,
        payment_method=payment_method,
        claim_type=claim_type,
        claimed_amount=claimed_amount,
        paid_at=paid_at,
        now=now or clock.now(),
    )
