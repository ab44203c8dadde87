"""Expected data shared by the claims tests."""

from datetime import UTC, datetime

from claims.policy import PolicyRules
from claims.states import ClaimType, DocumentKind
from orders.states import PaymentMethod

# Version 2017-08 written out field by field from DESIGN.md, not from the defaults.
POLICY_2017_08 = PolicyRules(
    version="2017-08",
    effective_from=datetime(2017, 7, 31, 22, 0, tzinfo=UTC),  # 1 Aug 2017 00:00 Warsaw
    covered_payment_methods=frozenset(
        {PaymentMethod.PLATFORM_PAYMENTS, PaymentMethod.BANK_TRANSFER}
    ),
    shipping_covered_for=frozenset({PaymentMethod.PLATFORM_PAYMENTS}),
    shipping_cap_minor=10_000,
    total_cap_minor=1_000_000,
    filing_window_days=90,
    documents_required={ClaimType.NOT_RECEIVED: frozenset({DocumentKind.POLICE_REPORT})},
    seller_answer_hours=48,
    appeal_window_days=30,
)

# What a version row needs besides its caps, as the tests' seeded versions have it: no
# documents required, no time for the seller (staff decide at once: tests/conftest.py), 30
# days to appeal a decision.
PLAIN_VERSION = {"documents_required": {}, "seller_answer_hours": 0, "appeal_window_days": 30}
