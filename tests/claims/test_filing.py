"""Filing a protection claim: every rule refuses with a clear status and stores nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.errors import NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import FileTooLarge, Upload
from arbiter.notifications import Notification, OutboxEmail
from claims import services
from claims.models import Claim, PolicyVersion
from claims.states import ClaimState, ClaimType, Decision, DocumentKind
from disputes import services as disputes
from orders.states import PaymentMethod
from tests.claims import PLAIN_VERSION
from tests.claims.helpers import IBAN, file
from tests.files import PDF, PNG


def _refused(world, attempt, status: int, code: str | None = None):
    """Run a filing that must fail; assert its status, its code and that nothing changed."""
    before = world.counts()
    with pytest.raises((TransitionNotAllowed, ValidationFailed, NotFound, FileTooLarge)) as error:
        attempt()
    db.session.rollback()
    assert error.value.status == status, error.value.message
    if code:
        assert error.value.code == code
    assert world.counts() == before
    return error.value


def test_filing_freezes_the_quote_audits_and_tells_the_buyer(ready_order, buyer):
    order = ready_order()
    claim = file(order)
    assert claim.state is ClaimState.SUBMITTED
    assert claim.submitted_at is not None and claim.buyer_id == buyer.id
    assert (claim.item_amount, claim.shipping_amount, claim.max_total) == (12_345, 1_500, 13_845)
    assert claim.cap_applied is False
    assert claim.policy_version.code == "2017-08"
    assert claim.clauses == ["covered_payment_methods", "item_full_price", "shipping_covered",
                             "filing_window"]
    assert claim.payout_account == IBAN
    assert claim.discussion_id is not None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.object_type == "claims"))
    assert entry.action == "claim.filed" and entry.actor_id == buyer.id
    assert entry.after["max_total"] == 13_845 and entry.after["policy_version"] == "2017-08"
    note = db.session.scalar(select(Notification).where(Notification.user_id == buyer.id,
                                                        Notification.object_type == "claims"))
    assert note.kind == "claim.filed"
    mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.template == "claim_filed"))
    assert mail.to_address == buyer.email


def test_the_cap_is_frozen_on_the_claim(ready_order):
    claim = file(ready_order(item_price=995_000, shipping_cost=8_000))
    assert (claim.item_amount, claim.shipping_amount, claim.max_total) == (995_000, 8_000,
                                                                         1_000_000)
    assert claim.cap_applied is True and "total_cap" in claim.clauses


def test_a_bank_transfer_order_gets_no_shipping(ready_order):
    claim = file(ready_order(payment_method=PaymentMethod.BANK_TRANSFER))
    assert (claim.shipping_amount, claim.max_total) == (0, 12_345)


def test_only_the_orders_buyer_files(world, ready_order, seller, create_user):
    order = ready_order()
    for outsider in (seller, create_user(), create_user(is_staff=True)):
        _refused(world, lambda who=outsider: services.file_claim(
            order, who, claim_type=ClaimType.NOT_AS_DESCRIBED, description="Mine now.",
            payout_account=IBAN), 404)


def test_one_open_claim_per_order(world, ready_order):
    order = ready_order()
    first = file(order)
    error = _refused(world, lambda: file(order), 409, "claim_already_open")
    assert error.existing.id == first.id
    assert str(first.id) in error.message


def test_an_approved_or_paid_claim_blocks_another_one_for_good(world, ready_order, staff):
    order = ready_order()
    claim = file(order)
    services.take(claim, staff)
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    error = _refused(world, lambda: file(order), 409, "claim_already_open")
    assert error.existing.id == claim.id


def test_after_a_withdrawal_the_buyer_may_file_again(ready_order, buyer):
    order = ready_order()
    services.withdraw(file(order), buyer)
    db.session.commit()
    assert file(order).state is ClaimState.SUBMITTED


def test_the_database_allows_one_open_claim_per_order(ready_order):
    first = file(ready_order())
    clone = Claim(**{column: getattr(first, column) for column in (
        "order_id", "buyer_id", "discussion_id", "claim_type", "description",
        "payout_account", "submitted_at", "policy_version_id", "item_amount",
        "shipping_amount", "max_total", "cap_applied", "clauses")})
    db.session.add(clone)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_a_claim_needs_a_discussion(world, create_order, buyer):
    order = create_order(buyer=buyer)
    _refused(world, lambda: file(order), 409, "no_discussion")


def test_a_resolved_discussion_does_not_allow_a_claim(world, ready_order, buyer):
    order = ready_order()
    discussion = disputes.open_discussion_for(order)
    disputes.close_as_solved(discussion, buyer)
    db.session.commit()
    _refused(world, lambda: file(order), 409, "discussion_resolved")


def test_the_discussion_window_must_have_passed(world, ready_order, time_machine):
    time_machine.move_to(datetime(2026, 6, 1, 10, 0, tzinfo=UTC), tick=False)
    order = ready_order(discussion_age_hours=0)
    error = _refused(world, lambda: file(order), 409, "discussion_too_recent")
    assert "2.06.2026, 12:00" in error.message  # 10:00 UTC in Warsaw, in Polish by default
    time_machine.move_to(datetime(2026, 6, 2, 10, 0, tzinfo=UTC), tick=False)
    assert file(order).state is ClaimState.SUBMITTED


def test_a_withdrawn_discussion_still_counts(ready_order, buyer):
    """DESIGN.md asks only that the discussion is not resolved and its window passed."""
    order = ready_order()
    disputes.withdraw(disputes.open_discussion_for(order), buyer)
    db.session.commit()
    assert file(order).state is ClaimState.SUBMITTED


@pytest.mark.parametrize("method", [PaymentMethod.CASH_ON_DELIVERY, PaymentMethod.OTHER])
def test_uncovered_payment_methods_are_refused_in_plain_words(world, ready_order, method):
    order = ready_order(payment_method=method)
    _refused(world, lambda: file(order), 409, "payment_method_not_covered")


def test_the_filing_window_is_90_days_to_the_microsecond(world, ready_order, time_machine):
    paid_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    time_machine.move_to(paid_at + timedelta(days=89), tick=False)
    order = ready_order(paid_at=paid_at)
    time_machine.move_to(paid_at + timedelta(days=90, microseconds=1), tick=False)
    error = _refused(world, lambda: file(order), 409, "filing_window_expired")
    assert "5.04.2026, 11:00" in error.message  # the deadline, in Warsaw time
    time_machine.move_to(paid_at + timedelta(days=90), tick=False)
    assert file(order).state is ClaimState.SUBMITTED


def test_not_received_needs_the_police_reference_and_the_document(world, ready_order):
    order = ready_order()
    report = Upload("acknowledgement.pdf", PDF)
    missing_reference = _refused(world, lambda: file(
        order, claim_type=ClaimType.NOT_RECEIVED, police_report=report), 422,
        "police_report_reference_required")
    assert list(missing_reference.fields) == ["police_report_reference"]
    _refused(world, lambda: file(order, claim_type=ClaimType.NOT_RECEIVED,
                                 police_report_reference="RSD-123/26"), 422,
             "police_report_required")
    _refused(world, lambda: file(order, claim_type=ClaimType.NOT_RECEIVED,
                                 police_report_reference="   ", police_report=report), 422)
    claim = file(order, claim_type=ClaimType.NOT_RECEIVED,
                 police_report_reference=" RSD-123/26 ", police_report=report,
                 documents=[Upload("tracking.png", PNG)])
    assert claim.police_report_reference == "RSD-123/26"
    assert sorted((d.kind, d.filename) for d in claim.documents) == [
        (DocumentKind.POLICE_REPORT, "acknowledgement.pdf"),
        (DocumentKind.SUPPORTING, "tracking.png")]
    assert all(len(d.sha256) == 64 for d in claim.documents)


def test_other_needs_a_documented_loss_up_to_the_item_price(world, ready_order):
    order = ready_order()
    _refused(world, lambda: file(order, claim_type=ClaimType.OTHER), 422,
             "claimed_amount_required")
    error = _refused(world, lambda: file(order, claim_type=ClaimType.OTHER,
                                         claimed_amount=12_346), 422,
                     "claimed_amount_exceeds_price")
    assert list(error.fields) == ["claimed_amount"]
    # Found by the lifecycle state machine: a negative loss was a ValueError (a 500).
    _refused(world, lambda: file(order, claim_type=ClaimType.OTHER, claimed_amount=-1), 422,
             "claimed_amount_not_positive")
    claim = file(order, claim_type=ClaimType.OTHER, claimed_amount=5_000)
    assert (claim.claimed_amount, claim.item_amount, claim.max_total) == (5_000, 5_000, 6_500)


def test_a_claimed_amount_is_ignored_for_the_other_types(ready_order):
    claim = file(ready_order(), claimed_amount=1)
    assert claim.claimed_amount is None and claim.max_total == 13_845


@pytest.mark.parametrize("account", ["", "PL00 1234", "PL61109010140000071219812875"])
def test_the_payout_account_must_be_a_valid_iban(world, ready_order, account):
    order = ready_order()
    error = _refused(world, lambda: file(order, payout_account=account), 422, "invalid_account")
    assert list(error.fields) == ["payout_account"]


@pytest.mark.parametrize("description", ["", "   ", "x" * 20_001])
def test_the_description_is_1_to_20000_characters(world, ready_order, description):
    order = ready_order()
    _refused(world, lambda: file(order, description=description), 422)


@pytest.mark.parametrize(("upload", "status"), [
    (Upload("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 100), 422),
    (Upload("page.html", b"<html></html>"), 422),
    (Upload("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)), 413),
])
def test_bad_documents_refuse_the_whole_claim_and_store_nothing(world, ready_order, upload,
                                                                 status):
    order = ready_order()
    _refused(world, lambda: file(order, documents=[Upload("fine.png", PNG), upload]), status)
    _refused(world, lambda: file(order, claim_type=ClaimType.NOT_RECEIVED,
                                 police_report_reference="RSD-1", police_report=upload), status)


def test_at_most_five_documents_at_a_time(world, ready_order):
    order = ready_order()
    _refused(world, lambda: file(order, documents=[Upload(f"p{i}.png", PNG) for i in range(6)]),
             422, "too_many_files")


def test_a_claim_is_judged_by_the_version_in_force_when_the_order_was_paid(ready_order,
                                                                          time_machine):
    time_machine.move_to(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), tick=False)
    db.session.add(PolicyVersion(
        code="2026-05", effective_from=datetime(2026, 5, 1, tzinfo=UTC),
        covered_payment_methods=["platform_payments"], shipping_covered_for=[],
        shipping_cap_minor=0, total_cap_minor=10_000, filing_window_days=30,
        **PLAIN_VERSION))
    db.session.commit()
    old = file(ready_order(paid_at=datetime(2026, 4, 20, tzinfo=UTC)))
    new = file(ready_order(paid_at=datetime(2026, 5, 20, tzinfo=UTC)))
    assert (old.policy_version.code, old.max_total) == ("2017-08", 13_845)
    assert (new.policy_version.code, new.max_total, new.cap_applied) == ("2026-05", 10_000, True)


def test_no_claim_for_orders_paid_before_any_policy(world, ready_order, time_machine):
    time_machine.move_to(datetime(2017, 7, 10, tzinfo=UTC), tick=False)
    order = ready_order(paid_at=clock.now() - timedelta(days=3))
    _refused(world, lambda: file(order), 409, "no_policy_in_force")
