from sqlalchemy import func, select

from accounts.models import User
from accounts.roles import Role
from arbiter import audit, clock
from arbiter.extensions import db
from claims.models import Claim, Payout
from claims.states import ClaimState, PayoutState
from disputes.models import Discussion
from disputes.states import DiscussionState
from incidents.models import DeadlineExtension, Incident
from incidents.states import DeadlineKind, IncidentState, UpdateKind
from incidents.tasks import run_extension
from orders.models import Order
from orders.states import PaymentMethod
from settlements.models import Settlement
from settlements.states import SettlementKind, SettlementState


def test_seed_creates_the_demo_world_once(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "Demo data created." in first.output
    assert "buyer1@arbiter.test" in first.output
    users = db.session.scalar(select(func.count()).select_from(User))
    orders = db.session.scalars(select(Order)).all()
    assert users == 11  # two finance people: one exports, the other confirms
    staff = db.session.scalars(select(User).where(User.role_grants.any())).all()
    assert sorted(grant.role for user in staff for grant in user.role_grants) == sorted(
        [*Role, Role.FINANCE])  # two finance people: one exports a batch, the other confirms
    assert len(orders) == 30
    assert {o.payment_method for o in orders} == set(PaymentMethod)
    states = db.session.scalars(select(Discussion.state)).all()
    assert set(states) == set(DiscussionState)
    ready = db.session.scalars(select(Discussion).where(
        Discussion.state == DiscussionState.AWAITING_SELLER,
        Discussion.escalation_available_at <= clock.now())).all()
    assert len(ready) == 1
    claims = {claim.state: claim for claim in db.session.scalars(select(Claim))}
    assert set(claims) == {ClaimState.SUBMITTED, ClaimState.APPROVED, ClaimState.PAID,
                           ClaimState.AWAITING_SECOND_APPROVAL}
    # Four eyes: the advisor's approval above 2,000.00 zł waits for the senior reviewer.
    waiting = claims[ClaimState.AWAITING_SECOND_APPROVAL]
    assert waiting.approved_amount > 200_000 and waiting.payout is None
    assert waiting.first_approver.email == "staff@arbiter.test"
    payout = db.session.scalar(select(Payout).where(
        Payout.claim_id == claims[ClaimState.APPROVED].id))
    assert payout.claim_id == claims[ClaimState.APPROVED].id
    assert payout.state is PayoutState.PENDING
    assert payout.amount == claims[ClaimState.APPROVED].max_total
    (incident,) = db.session.scalars(select(Incident)).all()
    assert incident.state is IncidentState.RESOLVED and incident.affected_services == ["claims"]
    run_extension(incident.id)  # what the background job does after the seed commits
    assert [u.kind for u in incident.updates] == [
        UpdateKind.CONFIRMED, UpdateKind.IMPACT, UpdateKind.PROGRESS, UpdateKind.RESOLVED]
    extended = set(db.session.scalars(select(DeadlineExtension.object_id).where(
        DeadlineExtension.deadline_kind == DeadlineKind.FILING_WINDOW)))
    assert claims[ClaimState.APPROVED].order_id in extended
    assert db.session.scalar(select(func.count()).select_from(DeadlineExtension).where(
        DeadlineExtension.deadline_kind != DeadlineKind.FILING_WINDOW)) == 0
    entries = audit.count()

    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0
    assert "demo data left alone" in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    assert db.session.scalar(select(func.count()).select_from(Order)) == 30
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 5
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 1
    assert audit.count() == entries


def test_the_demo_shows_a_case_in_each_state_of_the_follow_through(app, db_session):
    app.test_cli_runner().invoke(args=["seed"])
    discussions = db.session.scalars(select(Discussion)).all()

    def rows(**where):
        return db.session.scalars(select(Settlement).filter_by(**where)).all()

    # a refund awaiting confirmation: an accepted refund offer, the discussion waiting
    (refund,) = rows(kind=SettlementKind.REFUND)
    assert refund.state is SettlementState.OWED and refund.due_at > clock.now()
    assert db.session.get(Discussion, refund.discussion_id).state is (
        DiscussionState.AWAITING_FULFILMENT)
    # a failed promise that reopened the discussion, escalation available at once
    (failed,) = rows(state=SettlementState.FAILED)
    reopened = db.session.get(Discussion, failed.discussion_id)
    assert reopened.state is DiscussionState.IN_PROGRESS
    assert reopened.escalation_available_at <= clock.now()
    assert db.session.get(Order, failed.order_id).compensation_committed == 0
    # a kept promise: confirmed by the buyer, the discussion resolved
    (kept,) = rows(kind=SettlementKind.PARTIAL_REFUND, state=SettlementState.CONFIRMED)
    assert db.session.get(Discussion, kept.discussion_id).state is DiscussionState.RESOLVED
    # claims submitted on two orders (one waiting for the seller's answer)
    submitted = db.session.scalars(select(Claim).where(
        Claim.state == ClaimState.SUBMITTED)).all()
    assert len({claim.order_id for claim in submitted}) == 2
    # a paid claim: its payout confirmed, and the recovery the seller owes the platform
    (paid,) = db.session.scalars(select(Claim).where(Claim.state == ClaimState.PAID)).all()
    payout, recovery = rows(claim_id=paid.id)
    assert (payout.kind, payout.state) == (SettlementKind.PAYOUT, SettlementState.CONFIRMED)
    assert (recovery.kind, recovery.state) == (SettlementKind.RECOVERY, SettlementState.OWED)
    assert recovery.amount == paid.approved_amount
    # and the invariant on every demo order
    for order in db.session.scalars(select(Order)):
        counted = sum(row.amount for row in rows(order_id=order.id) if row.counts_for_buyer)
        assert counted == order.compensation_committed <= order.total
    assert {d.state for d in discussions} == set(DiscussionState)


def test_a_demo_buyer_can_log_in_and_see_purchases(app, db_session, client):
    from arbiter.seed import DEMO_PASSWORD

    app.test_cli_runner().invoke(args=["seed"])
    response = client.post("/login", data={"email": "buyer1@arbiter.test",
                                           "password": DEMO_PASSWORD})
    assert response.status_code == 302
    page = client.get("/purchases").text
    assert "DEMO-0001" in page


def test_the_demo_has_claims_to_click_through(app, db_session, client):
    from arbiter.seed import DEMO_PASSWORD

    app.test_cli_runner().invoke(args=["seed"])
    for email in ("staff@arbiter.test", "finance@arbiter.test"):
        # demo staff set up their authenticator app at their first login, like anyone
        login = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert login.headers["Location"].startswith("/account/second-factor")
        assert _enrol_in_the_browser(client, email).status_code == 200
        if email.startswith("staff@"):
            assert "Słuchawki bezprzewodowe" in client.get("/staff/claims").text
            assert client.get("/staff/payouts").status_code == 403  # an advisor pays nothing out
        else:
            assert "PL61 1090 1014 0000 0712 1981 2874" in client.get("/staff/payouts").text
        client.post("/logout")


def _enrol_in_the_browser(client, email):
    """Scan the QR code (read the secret shown on the page) and type the app's code."""
    import re

    import pyotp

    page = client.get("/account/second-factor").text
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", page).group(1).replace(" ", "")
    return client.post("/account/second-factor", data={"code": pyotp.TOTP(secret).now()})


def test_the_demo_has_a_past_incident_on_the_status_page(app, db_session, client):
    from arbiter.seed import DEMO_PASSWORD

    app.test_cli_runner().invoke(args=["seed"])
    run_extension(db.session.scalar(select(Incident.id)))
    page = client.get("/status").text
    assert "All systems are working." in page
    assert "Protection claims cannot be filed" in page
    assert "We found the cause and are deploying a fix." in page
    polish = client.get("/status", headers={"Accept-Language": "pl"}).text
    assert "Nie można składać wniosków o rekompensatę" in polish
    assert "Znaleźliśmy przyczynę" in polish
    client.post("/login", data={"email": "buyer2@arbiter.test", "password": DEMO_PASSWORD})
    claim = db.session.scalar(select(Claim).where(Claim.state == ClaimState.APPROVED))
    assert "Deadline extended by 24 h because of the incident “" in client.get(
        f"/claims/{claim.id}").text


def test_the_demo_has_appeals_in_the_queue_upheld_and_varied(app, db_session):
    from appeals.models import Appeal
    from appeals.queries import queue
    from appeals.states import AppealState, Subject
    from arbiter.documents import DecisionDocument, DecisionKind

    app.test_cli_runner().invoke(args=["seed"])
    appeals = {appeal.state: appeal for appeal in db.session.scalars(select(Appeal))}
    assert set(appeals) == {AppealState.SUBMITTED, AppealState.UPHELD, AppealState.VARIED}
    pending = appeals[AppealState.SUBMITTED]
    assert queue(None, now=clock.now()) == [pending]
    upheld, varied = appeals[AppealState.UPHELD], appeals[AppealState.VARIED]
    assert upheld.subject is Subject.CLAIM and upheld.new_amount == upheld.original_amount
    assert varied.subject is Subject.VERDICT and varied.new_amount > varied.original_amount
    for appeal in (upheld, varied):
        # decided by the second advisor, after the other party answered
        assert appeal.reviewer_id != appeal.original_decider_id
        assert appeal.respondent_answered_at is not None
        documents = db.session.scalars(select(DecisionDocument).where(
            DecisionDocument.kind == DecisionKind.APPEAL,
            DecisionDocument.object_id == appeal.id)).all()
        assert documents and len({document.number for document in documents}) == 1
    # the varied verdict: its row replaced in the ledger, the total kept
    rows = db.session.scalars(select(Settlement).where(
        Settlement.discussion_id == varied.discussion_id).order_by(Settlement.id)).all()
    assert [(row.amount, row.state) for row in rows] == [
        (varied.original_amount, SettlementState.CANCELLED),
        (varied.new_amount, SettlementState.OWED)]
    order = db.session.get(Order, varied.order_id)
    assert order.compensation_committed == varied.new_amount <= order.total
