"""A verdict's PDF names the protection-claim recourse only when the policy covers the
order; otherwise it says plainly which route remains (#18 §2)."""

import io

import pytest
from pypdf import PdfReader

from arbiter.documents import documents_for
from arbiter.extensions import db
from arbiter.storage import storage
from arbiter.tasks import run_ready_tasks
from disputes import services as disputes
from disputes.states import Verdict
from orders.states import PaymentMethod

RATIONALE = "The seller did not prove shipping, and the buyer's photos show the damage."


def _verdict(create_order, create_discussion, buyer, seller, staff, method):
    buyer.locale = "en"  # the English version too, next to the official Polish one
    order = create_order(buyer=buyer, seller=seller, payment_method=method)
    discussion = create_discussion(order, age_hours=25)
    disputes.escalate(discussion, buyer, "The seller does not answer at all.")
    disputes.take_case(discussion, staff)
    disputes.decide(discussion, staff, verdict=Verdict.BUYER_FAVOUR, amount=None,
                    rationale=RATIONALE)
    db.session.commit()
    run_ready_tasks()
    documents = {d.locale: d for d in documents_for("discussions", discussion.id)}
    return documents


def _pdf_text(document) -> str:
    reader = PdfReader(io.BytesIO(storage().get(document.storage_key)))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.mark.parametrize("method", [PaymentMethod.CASH_ON_DELIVERY, PaymentMethod.OTHER])
def test_an_order_not_covered_gets_no_claim_promise(create_order, create_discussion, buyer,
                                                    seller, staff, method):
    documents = _verdict(create_order, create_discussion, buyer, seller, staff, method)
    steps = documents["en"].data["next_steps"]
    assert "buyer protection does not cover" in steps
    assert "no buyer-protection claim is possible" in steps
    assert "through the marketplace or in court" in steps
    assert "file a buyer-protection claim" not in steps
    text = _pdf_text(documents["en"])
    assert "buyer protection does not cover" in text and "in court" in text
    assert "file a buyer-protection claim" not in text
    assert "ochrona kupujących nie obejmuje" in _pdf_text(documents["pl"])


@pytest.mark.parametrize("method", [PaymentMethod.PLATFORM_PAYMENTS,
                                    PaymentMethod.BANK_TRANSFER])
def test_a_covered_order_names_the_claim_and_its_deadline(create_order, create_discussion,
                                                          buyer, seller, staff, method):
    documents = _verdict(create_order, create_discussion, buyer, seller, staff, method)
    steps = documents["en"].data["next_steps"]
    assert "report it on the discussion page and file a buyer-protection claim until" in steps
    assert "does not cover" not in steps
    text = _pdf_text(documents["en"])
    assert "file a buyer-protection claim until" in text
    assert "złożyć wniosek o rekompensatę do" in _pdf_text(documents["pl"])
