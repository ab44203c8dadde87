"""A policy version carries the seller's answer window, the appeal window of its claim
decisions and the documents each claim type must bring (#21): a claim judged by a version
gets that version's deadlines and requirements, and every page, e-mail and decision says
that version's numbers."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from appeals import services as appeals
from appeals.policy import Refusal
from appeals.states import Appellant
from arbiter import mail
from arbiter.documents import DecisionDocument
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.notifications import OutboxEmail
from claims import policy, services
from claims.models import PolicyVersion
from claims.states import ClaimType, Decision, DocumentKind, RejectionReason
from tests.claims.helpers import file
from tests.files import PNG

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
# 1 June 2026, midnight in Warsaw (CEST).
JUNE = datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
REJECTION = "The photos show the lamp as the listing describes it, undamaged."


def _june_version(**changes) -> PolicyVersion:
    """A published version with other windows and documents than 2017-08's."""
    values = {
        "code": "2026-06", "effective_from": JUNE,
        "covered_payment_methods": ["platform_payments", "bank_transfer"],
        "shipping_covered_for": ["platform_payments"], "shipping_cap_minor": 10_000,
        "total_cap_minor": 1_000_000, "filing_window_days": 90,
        # no police report for a parcel that did not come; photos for "not as described"
        "documents_required": {"not_as_described": ["supporting"]},
        "seller_answer_hours": 72, "appeal_window_days": 14,
    }
    version = PolicyVersion(**{**values, **changes})
    db.session.add(version)
    db.session.commit()
    return version


@pytest.fixture(autouse=True)
def _now(time_machine, seller_answer_hours):
    time_machine.move_to(NOW, tick=False)
    seller_answer_hours(48)  # 2017-08's own window (the tests' databases give none)


# --- the pure rules ---------------------------------------------------------------------------


def test_documents_required_are_a_strict_mapping_of_claim_type_to_filing_documents():
    rules = policy.PolicyRules("x", JUNE, documents_required={
        "other": ["supporting", "police_report"], "not_as_described": []})
    assert rules.documents_for(ClaimType.OTHER) == {DocumentKind.POLICE_REPORT,
                                                    DocumentKind.SUPPORTING}
    assert rules.documents_for(ClaimType.NOT_AS_DESCRIBED) == frozenset()
    assert rules.police_report_required_for == {ClaimType.OTHER}
    assert policy.documents_json(rules.documents_required) == {
        "other": ["police_report", "supporting"]}
    for wrong in ({"lost_in_transit": ["police_report"]},  # not a claim type
                  {"other": ["seller_evidence"]},  # not something the buyer files
                  {"other": ["requested"]},  # staff ask for these later
                  {"other": ["supporting", "supporting"]},
                  {"other": "supporting"}, ["not_received"]):
        with pytest.raises(ValueError):
            policy.PolicyRules("x", JUNE, documents_required=wrong)
    with pytest.raises(ValueError):
        policy.PolicyRules("x", JUNE, appeal_window_days=0)


def test_a_quote_names_the_documents_of_its_version():
    facts = {"item_price": 10_000, "shipping_cost": 0, "payment_method": "platform_payments",
             "claimed_amount": None, "paid_at": JUNE, "now": NOW}
    june = policy.PolicyRules("2026-06", JUNE,
                              documents_required={"not_as_described": ["supporting"]})
    described = policy.quote(june, claim_type=ClaimType.NOT_AS_DESCRIBED, **facts)
    assert described.documents_required == (DocumentKind.SUPPORTING,)
    assert policy.Clause.SUPPORTING_DOCUMENTS_REQUIRED in described.clauses
    lost = policy.quote(june, claim_type=ClaimType.NOT_RECEIVED, **facts)
    assert lost.documents_required == () and not lost.police_report_required
    assert policy.quote(policy.PolicyRules("2017-08", JUNE), claim_type=ClaimType.NOT_RECEIVED,
                        **facts).documents_required == (DocumentKind.POLICE_REPORT,)


def _draft(**changes) -> dict:
    return {"code": "2027-01", "effective_from": NOW + timedelta(days=30),
            "covered_payment_methods": ["platform_payments"], "shipping_covered_for": [],
            "shipping_cap_minor": 0, "total_cap_minor": 100_000, "filing_window_days": 90,
            "documents_required": {"not_received": ["police_report"]},
            "per_buyer_cap_minor": None, "per_buyer_window_days": None,
            "seller_answer_hours": 48, "appeal_window_days": 30, **changes}


@pytest.mark.parametrize(("changes", "field", "problem"), [
    ({"seller_answer_hours": 0}, "seller_answer_hours", "window_not_positive"),
    ({"seller_answer_hours": -1}, "seller_answer_hours", "window_not_positive"),
    ({"seller_answer_hours": 721}, "seller_answer_hours", "window_too_long"),
    ({"appeal_window_days": 0}, "appeal_window_days", "window_not_positive"),
    ({"appeal_window_days": 366}, "appeal_window_days", "window_too_long"),
    ({"filing_window_days": 3651}, "filing_window_days", "window_too_long"),
    ({"documents_required": {"not_received": ["requested"]}}, "documents_required",
     "documents_not_valid"),
    ({"documents_required": {"lost": ["police_report"]}}, "documents_required",
     "documents_not_valid"),
    ({"documents_required": {"other": "supporting"}}, "documents_required",
     "documents_not_valid"),
])
def test_a_draft_with_a_window_of_0_too_long_or_unknown_documents_is_refused(
        changes, field, problem):
    assert policy.draft_problems(_draft(**changes), NOW) == {field: problem}


def test_the_longest_windows_are_accepted():
    assert policy.draft_problems(_draft(seller_answer_hours=720, appeal_window_days=365,
                                        documents_required={}), NOW) == {}


# --- a claim under the second version ---------------------------------------------------------


def test_filing_asks_for_the_documents_of_the_version_that_judges_the_order(ready_order):
    _june_version()
    june_order = ready_order()  # paid two days ago: 2026-06
    may_order = ready_order(paid_at=datetime(2026, 5, 25, 10, 0, tzinfo=UTC))  # 2017-08

    with pytest.raises(ValidationFailed) as refused:
        file(june_order)  # "not as described" without a document
    assert refused.value.fields == {"documents": ["required"]}
    db.session.rollback()
    lost = file(ready_order(), claim_type=ClaimType.NOT_RECEIVED)  # no police report needed
    assert (lost.policy_version.code, lost.police_report_reference) == ("2026-06", None)
    described = file(june_order, documents=[Upload("photo.png", PNG)])
    assert [d.kind for d in described.documents] == [DocumentKind.SUPPORTING]

    with pytest.raises(ValidationFailed) as refused:  # 2017-08 still wants the police
        file(may_order, claim_type=ClaimType.NOT_RECEIVED)
    assert set(refused.value.fields) == {"police_report_reference", "police_report"}
    db.session.rollback()
    assert file(may_order).policy_version.code == "2017-08"  # no documents needed there


def test_the_filing_page_lists_each_types_documents_from_the_version(client, auth, buyer,
                                                                      ready_order):
    _june_version()
    order = ready_order()
    auth.login(buyer.email)
    page = client.get(f"/orders/{order.id}/claim").text
    assert 'data-claim-type="not_as_described"' in page
    assert 'data-documents="supporting"' in page and 'data-documents="police_report"' not in page


def test_the_seller_gets_the_versions_answer_window_in_the_e_mail_and_on_the_page(
        ready_order, seller, client, auth):
    _june_version()
    june = file(ready_order(), documents=[Upload("photo.png", PNG)])
    may = file(ready_order(paid_at=datetime(2026, 5, 25, 10, 0, tzinfo=UTC)))
    assert june.seller_answer_due_at == NOW + timedelta(hours=72)
    assert may.seller_answer_due_at == NOW + timedelta(hours=48)

    june_email, may_email = (mail.render(email).text for email in db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.recipient_id == seller.id,
                                  OutboxEmail.template == "claim_filed_on_sale")
        .order_by(OutboxEmail.id)))
    assert f"nr {june.id}." in june_email and "w ciągu 72 godzin" in june_email
    assert f"nr {may.id}." in may_email and "w ciągu 48 godzin" in may_email

    auth.login(seller.email)
    page = client.get(f"/claims/{june.id}").text
    assert "The seller can answer until" in page
    assert f'<time datetime="{(NOW + timedelta(hours=72)).isoformat()}">' in page


def test_a_claim_decision_is_appealable_within_its_versions_window(ready_order, staff,
                                                                     buyer, time_machine):
    _june_version()
    claim = file(ready_order(), documents=[Upload("photo.png", PNG)])
    services.take(claim, staff)
    time_machine.move_to(NOW + timedelta(hours=72), tick=False)  # the seller's time is up
    services.decide(claim, staff, decision=Decision.REJECTED, rationale=REJECTION,
                    rejection_reason=RejectionReason.ITEM_DELIVERED_AS_DESCRIBED)
    db.session.commit()

    target = appeals.appealed(claim)
    assert appeals.closes_at(target) == claim.decided_at + timedelta(days=14)
    (document,) = db.session.scalars(select(DecisionDocument).where(
        DecisionDocument.object_type == "claims", DecisionDocument.object_id == claim.id))
    assert "w ciągu 14 dni" in document.data["next_steps"]
    assert "30 dni" not in document.data["next_steps"]

    time_machine.move_to(claim.decided_at + timedelta(days=14), tick=False)
    assert appeals.refusal(target, buyer) is None  # the last instant is inside
    time_machine.move_to(claim.decided_at + timedelta(days=14, seconds=1), tick=False)
    assert appeals.refusal(target, buyer)[0] is Refusal.WINDOW_CLOSED
    assert appeals.appellant_of(target, buyer) is Appellant.BUYER


def test_the_rules_page_and_the_api_show_the_new_fields_side_by_side(app, client):
    _june_version(effective_from=NOW + timedelta(days=21))  # scheduled: announced
    db.session.commit()
    english = client.get("/protection-rules").text
    changes = english[english.index("data-policy-changes"):english.index("</table>")]
    assert 'data-field="seller_answer_hours"' in changes
    assert "48 hours" in changes and "72 hours" in changes
    assert 'data-field="appeal_window_days"' in changes and "14 days" in changes
    assert 'data-field="documents_required"' in changes
    assert "Item significantly not as described: at least one supporting document" in changes
    assert 'data-field="total_cap_minor"' not in changes  # unchanged
    polish = app.test_client().get("/protection-rules",
                                   headers={"Accept-Language": "pl"}).text
    assert "72 godziny" in polish or "72 godzin" in polish
    assert "w ciągu 14 dni od decyzji" in polish

    listed = {v["code"]: v for v in client.get("/api/v1/policy/versions").json}
    assert listed["2026-06"]["seller_answer_hours"] == 72
    assert listed["2026-06"]["appeal_window_days"] == 14
    assert listed["2026-06"]["documents_required"] == {"not_as_described": ["supporting"]}
    assert listed["2026-06"]["police_report_required_for"] == []
    assert listed["2017-08"]["documents_required"] == {"not_received": ["police_report"]}
    assert listed["2017-08"]["police_report_required_for"] == ["not_received"]
