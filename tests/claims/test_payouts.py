"""Payouts: one per approved claim, exported once, marked paid once."""

import csv
import hashlib
import io

import pytest
from sqlalchemy import func, select

from arbiter import audit, clock
from arbiter.errors import NotFound, TransitionNotAllowed
from arbiter.extensions import db
from arbiter.notifications import Notification
from arbiter.storage import storage
from claims import services
from claims.models import Claim, Payout, PayoutBatch
from claims.states import ClaimState, Decision, PayoutState
from tests.claims.helpers import IBAN


def _rows(batch):
    data = storage().get(batch.csv_storage_key)
    assert hashlib.sha256(data).hexdigest() == batch.csv_sha256
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_export_puts_every_pending_payout_into_one_batch(approve, staff, buyer):
    first = approve()
    second = approve(decision=Decision.PARTIALLY_APPROVED, amount=4_050, item_price=995_000)
    batch = services.export_payouts(staff)
    db.session.commit()
    assert (batch.payout_count, batch.total_amount, batch.created_by_id) == (2, 17_895, staff.id)
    year = clock.to_local(clock.now()).year
    first_number, second_number = f"POK/{year}/000001", f"POK/{year}/000002"
    assert _rows(batch) == [
        {"payout_id": str(first.payout.id), "claim_id": str(first.id),
         "beneficiary_name": buyer.name, "account": IBAN, "amount": "138.45",
         "currency": "PLN", "title": f"Arbiter {first_number} claim {first.id}",
         "decision_number": first_number},
        {"payout_id": str(second.payout.id), "claim_id": str(second.id),
         "beneficiary_name": buyer.name, "account": IBAN, "amount": "40.50",
         "currency": "PLN", "title": f"Arbiter {second_number} claim {second.id}",
         "decision_number": second_number},
    ]
    assert {p.state for p in batch.payouts} == {PayoutState.EXPORTED}
    entry = db.session.scalar(select(audit.AuditEntry).where(
        audit.AuditEntry.action == "payout_batch.exported"))
    assert entry.after["payout_ids"] == [first.payout.id, second.payout.id]
    # Exporting is not a decision: the claims stay approved until finance confirms.
    assert {c.state for c in db.session.scalars(select(Claim))} == {
        ClaimState.APPROVED, ClaimState.PARTIALLY_APPROVED}


def test_exporting_twice_never_pays_twice(approve, staff):
    approve()
    first = services.export_payouts(staff)
    db.session.commit()
    entries = audit.count()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.export_payouts(staff)
    db.session.rollback()
    assert (refused.value.status, refused.value.code) == (409, "nothing_to_export")
    assert db.session.scalar(select(func.count()).select_from(PayoutBatch)) == 1
    assert audit.count() == entries
    later = approve()
    second = services.export_payouts(staff)
    db.session.commit()
    assert [row["claim_id"] for row in _rows(second)] == [str(later.id)]
    exported = db.session.scalars(select(Payout.batch_id)).all()
    assert sorted(exported) == [first.id, second.id]


def test_marking_a_batch_paid_pays_its_claims_once(approve, staff, buyer, colleague):
    claims = [approve(), approve()]
    batch = services.export_payouts(staff)
    db.session.commit()
    approved_after_export = approve()
    assert services.mark_batch_paid(batch.id, colleague) is True
    db.session.commit()
    db.session.expire_all()
    for claim in claims:
        claim = db.session.get(Claim, claim.id)
        assert claim.state is ClaimState.PAID and claim.paid_at is not None
        assert claim.payout.state is PayoutState.PAID
    assert db.session.get(Claim, approved_after_export.id).state is ClaimState.APPROVED
    paid_notes = select(func.count()).select_from(Notification).where(
        Notification.kind == "claim.paid")
    assert db.session.scalar(paid_notes) == 2
    entries = audit.count()

    assert services.mark_batch_paid(batch.id, colleague) is False  # idempotent
    db.session.commit()
    assert audit.count() == entries
    assert db.session.scalar(paid_notes) == 2
    assert db.session.get(PayoutBatch, batch.id).marked_paid_by_id == colleague.id


def test_payouts_are_staff_work(approve, buyer, staff):
    approve()
    with pytest.raises(NotFound):
        services.export_payouts(buyer)
    db.session.rollback()
    batch = services.export_payouts(staff)
    db.session.commit()
    with pytest.raises(NotFound):
        services.mark_batch_paid(batch.id, buyer)
    db.session.rollback()
    with pytest.raises(NotFound):
        services.mark_batch_paid(batch.id + 1, staff)


def test_a_claim_decision_has_its_numbered_document(approve, buyer, client, auth):
    import io as _io

    from pypdf import PdfReader

    from arbiter.documents import documents_for
    from arbiter.tasks import run_ready_tasks

    claim = approve(item_price=995_000, shipping_cost=8_000)  # 9950.00 + 80.00: the cap bites
    run_ready_tasks()
    [document] = documents_for("claims", claim.id)
    year = clock.to_local(clock.now()).year
    assert document.number == f"POK/{year}/000001"
    reader = PdfReader(_io.BytesIO(storage().get(document.storage_key)))
    text = "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")
    flat = " ".join(text.split())
    assert "Zastosowano zasady w wersji 2017-08" in flat
    assert "łącznie najwyżej 10 000,00 zł" in flat  # the clause the cap came from
    assert "Zastosowano limit tak" in flat
    assert "Przyznana kwota łącznie 10 000,00 zł" in flat
    auth.login(buyer.email)
    assert document.number in client.get(f"/claims/{claim.id}").text
    assert client.get(f"/decisions/{document.number}/download").status_code == 200
