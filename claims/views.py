"""Public pages of buyer protection."""

from flask import Blueprint, render_template

from claims import services
from claims.states import CLAIM_TYPE_LABELS, ClaimType
from orders.states import PAYMENT_METHOD_LABELS, PaymentMethod

bp = Blueprint("claims", __name__)


@bp.route("/protection-rules")
def protection_rules():
    """The buyer protection rules: every policy version, newest first; no login needed."""
    return render_template(
        "claims/rules.html",
        versions=services.policy_versions(),
        payment_methods=list(PaymentMethod),
        payment_method_labels=PAYMENT_METHOD_LABELS,
        claim_types=list(ClaimType),
        claim_type_labels=CLAIM_TYPE_LABELS,
    )
