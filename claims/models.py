from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from arbiter.db import Base, PrimaryKey
from claims.policy import PolicyRules


class PolicyVersion(PrimaryKey, Base):
    """One published version of the buyer-protection rules (seeded by migrations).

    A claim is judged by the version in force when its order was paid, and decisions cite
    the code, so a version in force is never edited: a change is a new version.
    """

    __tablename__ = "policy_versions"
    __table_args__ = (
        CheckConstraint("code <> ''", name="code_not_empty"),
        CheckConstraint("shipping_cap_minor >= 0", name="shipping_cap_not_negative"),
        CheckConstraint("total_cap_minor > 0", name="total_cap_positive"),
        CheckConstraint("shipping_cap_minor <= total_cap_minor",
                        name="shipping_cap_within_total_cap"),
        CheckConstraint("filing_window_days > 0", name="filing_window_positive"),
    )

    code: Mapped[str] = mapped_column(
        String(16), unique=True, comment="Version code that decisions cite, e.g. 2017-08"
    )
    effective_from: Mapped[datetime] = mapped_column(
        unique=True, comment="Orders paid at or after this instant (UTC) fall under it"
    )
    covered_payment_methods: Mapped[list[str]] = mapped_column(
        JSON, comment="Payment method codes whose orders are eligible at all"
    )
    shipping_covered_for: Mapped[list[str]] = mapped_column(
        JSON, comment="Payment method codes whose shipping cost is reimbursed"
    )
    shipping_cap_minor: Mapped[int] = mapped_column(
        comment="Most shipping reimbursed per claim, grosze"
    )
    total_cap_minor: Mapped[int] = mapped_column(
        comment="Most paid per claim, item and shipping together, grosze"
    )
    filing_window_days: Mapped[int] = mapped_column(
        comment="Days (of 24 h) after paid_at during which a claim may be filed"
    )
    police_report_required_for: Mapped[list[str]] = mapped_column(
        JSON, comment="Claim type codes that need a police-report acknowledgement"
    )

    def to_rules(self) -> PolicyRules:
        """The pure rules of this version (unknown codes in the JSON lists raise)."""
        return PolicyRules(
            version=self.code,
            effective_from=self.effective_from,
            covered_payment_methods=frozenset(self.covered_payment_methods),
            shipping_covered_for=frozenset(self.shipping_covered_for),
            shipping_cap_minor=self.shipping_cap_minor,
            total_cap_minor=self.total_cap_minor,
            filing_window_days=self.filing_window_days,
            police_report_required_for=frozenset(self.police_report_required_for),
        )
