"""Money controls on payouts (issue 20): four eyes on batches, confirmation before money
moves, transfers the bank returned, accounts shared by several buyers."""

import pytest
from sqlalchemy import func, insert, select, text, update

from accounts.roles import Role
from arbiter import audit, mail
from arbiter.errors import ConflictOfInterest, NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import Notification, OutboxEmail
from arbiter.storage import storage
from claims import banking, services
from claims.models import Claim, Payout, PayoutBatch
from claims.states import ClaimState, PayoutState
from orders.models import Order
from settlements.models import Settlement
from settlements.states import SettlementKind, SettlementState
from tests.claims.helpers import IBAN, OTHER_IBAN, export_via_page, file
from tests.factories import refused_by_the_database

CORRECTED = "PL60 1020 1026 0000 0422 7020 1111"
CORRECTED_COMPACT = "PL60102010260000042270201111"
REASON = "AC04: account closed"


@pytest.fixture
def finance(create_user):
    return create_user("fiona@example.test", name="Fiona Finance", roles=[Role.FINANCE])


@pytest.fixture
def finance_two(create_user):
    return create_user("felix@example.test", name="Felix Finance", roles=[Role.FINANCE])


@pytest.fixture
def paid_claim(approve, finance, finance_two):
    """An approved claim (138.45 zł) exported by ``finance`` and confirmed by the other."""
    claim = approve()
    batch = services.export_payouts(finance)
    db.session.commit()
    services.mark_batch_paid(batch.id, finance_two)
    db.session.commit()
    return claim


def _csv_payouts(batch) -> list[str]:
    data = storage().get(batch.csv_storage_key).decode()
    return [line.split(",")[0] for line in data.splitlines()[1:]]


def _payout_rows(claim):
    return list(db.session.scalars(select(Settlement).where(
        Settlement.claim_id == claim.id, Settlement.kind == SettlementKind.PAYOUT)
        .order_by(Settlement.id)))


# --- four eyes on a batch ------------------------------------------------------------------


def test_the_exporter_of_a_batch_cannot_confirm_it(approve, finance, finance_two, client,
                                                   auth):
    claim = approve()
    batch = services.export_payouts(finance)
    db.session.commit()
    entries = audit.count()
    with pytest.raises(services.ExporterCannotConfirm) as refused:
        services.mark_batch_paid(batch.id, finance)
    assert refused.value.status == 403 and refused.value.code == "exporter_cannot_confirm"
    db.session.rollback()
    assert audit.count() == entries
    auth.login(finance.email)
    page = client.get(f"/staff/payouts/batches/{batch.id}")
    assert "another member of the finance team must confirm" in page.text
    assert "data-confirm-paid" not in page.text
    response = client.post(f"/staff/payouts/batches/{batch.id}/paid")
    assert response.status_code == 403
    assert "another member of the finance team must confirm" in response.text
    db.session.expire_all()
    assert db.session.get(PayoutBatch, batch.id).marked_paid_at is None
    assert db.session.get(Claim, claim.id).state is ClaimState.APPROVED
    # The database refuses it too, written past the services.
    refused_by_the_database(
        update(PayoutBatch).where(PayoutBatch.id == batch.id).values(
            marked_paid_at=batch.created_at, marked_paid_by_id=finance.id),
        "confirmer_not_exporter")
    assert services.mark_batch_paid(batch.id, finance_two) is True


def test_the_export_page_asks_first_with_the_total_and_whom(approve, finance, client, auth,
                                                            buyer):
    first, second = approve(), approve()
    auth.login(finance.email)
    page = client.get("/staff/payouts").text
    assert 'href="/staff/payouts/export"' in page and 'action="/staff/payouts/export"' not in page
    confirm = client.get("/staff/payouts/export").text.replace("\xa0", " ")
    assert "You are about to hand 2 payouts of PLN 276.90 in total" in confirm
    assert confirm.count(buyer.name) == 2 and "PL61 1090 1014 0000 0712 1981 2874" in confirm
    assert db.session.scalar(select(func.count()).select_from(PayoutBatch)) == 0  # GET: none
    # What was confirmed is what goes out: a list that changed meanwhile exports nothing.
    third = approve()
    stale = client.post("/staff/payouts/export",
                        data={"payout_id": [first.payout.id, second.payout.id]})
    assert stale.status_code == 409 and "review the list again" in stale.text
    assert client.post("/staff/payouts/export").status_code == 409  # nothing confirmed
    assert db.session.scalar(select(func.count()).select_from(PayoutBatch)) == 0
    response = export_via_page(client)
    assert response.status_code == 303
    batch = db.session.scalar(select(PayoutBatch))
    assert sorted(_csv_payouts(batch)) == sorted(
        str(c.payout.id) for c in (first, second, third))


def test_the_batch_page_asks_the_colleague_to_confirm_the_total(approve, finance, finance_two,
                                                                client, auth, buyer):
    approve()
    batch = services.export_payouts(finance)
    db.session.commit()
    auth.login(finance_two.email)
    page = client.get(f"/staff/payouts/batches/{batch.id}").text.replace("\xa0", " ")
    assert ("Confirm that the bank transferred PLN 138.45 in 1 payout to the person listed "
            "above") in page
    assert buyer.name in page and "data-confirm-paid" in page
    assert client.post(f"/staff/payouts/batches/{batch.id}/paid").status_code == 302
    assert "confirmed it as paid" in client.get(f"/staff/payouts/batches/{batch.id}").text


# --- a transfer the bank returned ----------------------------------------------------------


def test_a_returned_payout_goes_back_to_the_buyer_and_out_again_once(
        paid_claim, finance, finance_two, buyer, client, auth):
    claim = paid_claim
    order_id = claim.order_id
    committed = db.session.get(Order, order_id).compensation_committed
    assert committed == 13_845
    original = claim.payout
    services.fail_payout(original.id, finance, REASON)
    db.session.commit()

    db.session.expire_all()
    original = db.session.get(Payout, original.id)
    assert original.state is PayoutState.FAILED and original.failure_reason == REASON
    assert original.failed_by_id == finance.id and original.paid_at is not None
    failed, reissued = _payout_rows(claim)
    assert (failed.state, failed.note) == (SettlementState.FAILED, REASON)
    assert reissued.state is SettlementState.OWED and reissued.reissue_of_id == failed.id
    assert reissued.amount == failed.amount == 13_845
    # The order counts the payout once: the failed row let go, the new one took it back.
    assert db.session.get(Order, order_id).compensation_committed == committed
    assert db.session.get(Claim, claim.id).state is ClaimState.PAID

    # The buyer is told, in the app and by e-mail, and asked for an account.
    note = db.session.scalar(select(Notification).where(Notification.kind == "payout.returned"))
    assert note.user_id == buyer.id
    email = db.session.scalar(select(OutboxEmail).where(OutboxEmail.template == "payout_returned"))
    assert email.recipient_id == buyer.id
    assert f"/claims/{claim.id}" in mail.render(email).text  # where the account is given

    # Nothing goes out before the buyer gives an account.
    with pytest.raises(TransitionNotAllowed):
        services.export_payouts(finance)
    db.session.rollback()

    auth.login(buyer.email)
    page = client.get(f"/claims/{claim.id}").text
    assert "data-account-needed" in page and "returned by the bank" in page
    form = client.get(f"/claims/{claim.id}/payout-account")
    assert REASON in form.text
    invalid = client.post(f"/claims/{claim.id}/payout-account",
                          data={"payout_account": "PL61 1090 1014 0000 0712 1981 2875"})
    assert invalid.status_code == 422 and "as an IBAN" in invalid.text
    same = client.post(f"/claims/{claim.id}/payout-account", data={"payout_account": IBAN})
    assert same.status_code == 422 and "give a different one" in same.text
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 1
    done = client.post(f"/claims/{claim.id}/payout-account", data={"payout_account": CORRECTED})
    assert done.status_code == 302
    again = client.post(f"/claims/{claim.id}/payout-account", data={"payout_account": CORRECTED})
    assert again.status_code == 409  # once
    auth.logout()

    db.session.expire_all()
    reissue = db.session.scalar(select(Payout).where(Payout.reissue_of_id == original.id))
    assert reissue.state is PayoutState.PENDING and reissue.account == CORRECTED_COMPACT
    assert reissue.amount == original.amount
    assert db.session.get(Claim, claim.id).payout_account == CORRECTED_COMPACT

    batch = services.export_payouts(finance)
    db.session.commit()
    assert _csv_payouts(batch) == [str(reissue.id)]
    assert CORRECTED_COMPACT in storage().get(batch.csv_storage_key).decode()
    with pytest.raises(TransitionNotAllowed):
        services.export_payouts(finance_two)  # exported once
    db.session.rollback()
    assert services.mark_batch_paid(batch.id, finance_two) is True
    db.session.commit()

    db.session.expire_all()
    assert db.session.get(Payout, reissue.id).state is PayoutState.PAID
    assert [r.state for r in _payout_rows(claim)] == [SettlementState.FAILED,
                                                      SettlementState.CONFIRMED]
    recoveries = db.session.scalars(select(Settlement).where(
        Settlement.order_id == order_id, Settlement.kind == SettlementKind.RECOVERY)).all()
    assert [r.amount for r in recoveries] == [13_845]  # the seller owes it once
    assert db.session.get(Order, order_id).compensation_committed == committed
    # The case file tells the story: paid, returned by the bank, paid again.
    auth.login(buyer.email)
    case = client.get(f"/orders/{order_id}/case").text
    assert case.count("Payout transferred") == 2
    assert "The bank returned the payout; it is paid again to a corrected account" in case


def test_a_payout_fails_once_and_is_reissued_once(paid_claim, finance, buyer):
    payout_id = paid_claim.payout.id
    services.fail_payout(payout_id, finance, REASON)
    db.session.commit()
    entries = audit.count()
    with pytest.raises(TransitionNotAllowed) as twice:
        services.fail_payout(payout_id, finance, REASON)
    assert twice.value.code == "payout_already_failed"
    db.session.rollback()
    assert audit.count() == entries
    assert len(_payout_rows(paid_claim)) == 2

    services.correct_payout_account(db.session.get(Claim, paid_claim.id), buyer, CORRECTED)
    db.session.commit()
    with pytest.raises(TransitionNotAllowed) as corrected_twice:
        services.correct_payout_account(db.session.get(Claim, paid_claim.id), buyer,
                                        OTHER_IBAN)
    assert corrected_twice.value.code == "no_returned_payout"
    db.session.rollback()
    # A second re-issue of the same failed payout, past the services: refused.
    original = db.session.get(Payout, payout_id)
    refused_by_the_database(insert(Payout).values(
        claim_id=original.claim_id, buyer_id=original.buyer_id, seller_id=original.seller_id,
        amount=original.amount, currency="PLN", beneficiary_name="x", account=OTHER_IBAN,
        state="pending", created_at=original.created_at, reissue_of_id=payout_id,
        **Payout.approvals_of(original.claim)),
        "reissue_of_id")
    # and a second ledger row re-issuing the same failed one
    failed, _reissue = _payout_rows(paid_claim)
    refused_by_the_database(insert(Settlement).values(
        order_id=failed.order_id, buyer_id=failed.buyer_id, seller_id=failed.seller_id,
        kind="payout", payer="platform", payee="buyer", amount=1, currency="PLN",
        source="claim", claim_id=failed.claim_id, state="owed", created_at=failed.created_at,
        due_at=failed.due_at, reissue_of_id=failed.id), "reissue_of_id")


def test_only_a_paid_payout_can_come_back(approve, finance):
    claim = approve()
    with pytest.raises(TransitionNotAllowed) as pending:
        services.fail_payout(claim.payout.id, finance, REASON)
    assert pending.value.code == "payout_not_paid"
    db.session.rollback()
    services.export_payouts(finance)
    db.session.commit()
    with pytest.raises(TransitionNotAllowed):
        services.fail_payout(claim.payout.id, finance, REASON)
    db.session.rollback()
    assert db.session.get(Payout, claim.payout.id).state is PayoutState.EXPORTED


def test_recording_a_return_is_finance_work_with_a_reason(paid_claim, create_user, finance,
                                                          finance_two, client, auth):
    advisor = create_user(roles=[Role.ADVISOR])
    payout_id = paid_claim.payout.id
    with pytest.raises(NotFound):
        services.fail_payout(payout_id, advisor, REASON)
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        services.fail_payout(payout_id, finance, "  ")
    db.session.rollback()
    auth.login(advisor.email)
    assert client.post(f"/staff/payouts/{payout_id}/failed",
                       data={"reason": REASON}).status_code == 403
    auth.logout()
    auth.login(finance_two.email)
    batch_id = paid_claim.payout.batch_id
    page = client.get(f"/staff/payouts/batches/{batch_id}").text.replace("\xa0", " ")
    assert "Record that the transfer of PLN 138.45 to Barbara Buyer" in page
    assert client.post(f"/staff/payouts/{payout_id}/failed",
                       data={"reason": ""}).status_code == 422
    response = client.post(f"/staff/payouts/{payout_id}/failed", data={"reason": REASON})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Payout, payout_id).state is PayoutState.FAILED
    assert "waiting for the buyer" in client.get(f"/staff/payouts/batches/{batch_id}").text
    assert REASON in client.get("/staff/payouts").text


def test_a_polish_buyer_is_told_in_polish(approve, finance, finance_two, buyer):
    buyer.locale = "pl"
    db.session.commit()
    claim = approve()
    batch = services.export_payouts(finance)
    services.mark_batch_paid(batch.id, finance_two)
    services.fail_payout(claim.payout.id, finance, REASON)
    db.session.commit()
    email = db.session.scalar(select(OutboxEmail).where(OutboxEmail.template == "payout_returned"))
    assert email.locale == "pl"
    rendered = mail.render(email)
    assert "Bank zwrócił wypłatę 138,45" in rendered.text
    assert "poprawny numer rachunku" in rendered.text


# --- an account shared by several buyers ---------------------------------------------------


@pytest.fixture
def shared(paid_claim, create_user, create_order, create_discussion, staff):
    """A second buyer's approved claim paid to the account the first buyer was paid to."""
    other = create_user("olga@example.test", name="Olga Other")
    order = create_order(buyer=other)
    create_discussion(order, age_hours=25)
    claim = file(order, payout_account=IBAN.lower())
    services.take(claim, staff)
    services.decide(claim, staff, decision="approved")
    db.session.commit()
    return claim


def test_a_payout_to_an_account_another_buyer_was_paid_to_is_held(shared, paid_claim, buyer,
                                                                  finance, client, auth):
    other = shared.buyer
    assert banking.buyers_sharing_account(IBAN, buyer_id=other.id) == [buyer.id]
    assert banking.buyers_sharing_account("pl61 1090 1014 0000 0712 1981 2874",
                                          buyer_id=buyer.id) == [other.id]
    assert banking.buyers_sharing_account(OTHER_IBAN, buyer_id=buyer.id) == []
    assert banking.buyers_sharing_account("not an account") == []
    with pytest.raises(TransitionNotAllowed) as held:
        services.export_payouts(finance)
    assert held.value.code == "nothing_to_export" and "starszy doradca" in held.value.message
    db.session.rollback()
    auth.login(finance.email)
    page = client.get("/staff/payouts").text
    assert f'data-held="{shared.payout.id}"' in page
    listing = client.get("/staff/payouts/held").text
    assert buyer.name in listing and "Olga Other" in listing
    assert "Release" not in listing  # finance sees it; seniors release it
    assert client.post(f"/staff/payouts/{shared.payout.id}/release",
                       data={"note": "Checked: the same household."}).status_code == 403


def test_a_senior_who_is_not_the_approver_releases_it_with_a_note(shared, staff, create_user,
                                                                  finance, client, auth):
    senior = create_user("sonia@example.test", name="Sonia Senior", roles=[Role.SENIOR])
    with pytest.raises(ConflictOfInterest) as approver:
        services.release_payout(shared.payout.id, staff, "Checked: the same household.")
    assert approver.value.code == "approver_cannot_release"
    db.session.rollback()
    with pytest.raises(NotFound):  # seniors only (a party never: releaser_not_a_party)
        services.release_payout(shared.payout.id, shared.buyer, "It is my own account.")
    db.session.rollback()
    auth.login(senior.email)
    assert client.get("/staff/payouts").status_code == 403  # not finance
    listing = client.get("/staff/payouts/held").text
    assert "Release" in listing
    assert client.post(f"/staff/payouts/{shared.payout.id}/release",
                       data={"note": "short"}).status_code == 422
    response = client.post(f"/staff/payouts/{shared.payout.id}/release",
                           data={"note": "Checked by phone: the buyers are a married couple."})
    assert response.status_code == 302
    db.session.expire_all()
    payout = db.session.get(Payout, shared.payout.id)
    assert payout.released_by_id == senior.id and "married couple" in payout.release_note
    entry = db.session.scalar(select(audit.AuditEntry).where(
        audit.AuditEntry.action == "payout.released"))
    assert entry.after["other_buyer_ids"] == [paid_claim_buyer_id(shared)]
    assert client.post(f"/staff/payouts/{shared.payout.id}/release",
                       data={"note": "Checked by phone again, still fine."}).status_code == 409
    batch = services.export_payouts(finance)
    db.session.commit()
    assert _csv_payouts(batch) == [str(shared.payout.id)]


def paid_claim_buyer_id(shared) -> int:
    return db.session.scalar(select(Payout.buyer_id).where(Payout.buyer_id != shared.buyer_id))


def test_the_database_refuses_exporting_or_releasing_wrongly(shared, staff):
    payout = shared.payout
    refused_by_the_database(
        update(Payout).where(Payout.id == payout.id).values(
            released_at=payout.created_at, released_by_id=shared.buyer_id, release_note="x"),
        "releaser_not_a_party")
    refused_by_the_database(
        update(Payout).where(Payout.id == payout.id).values(released_at=payout.created_at),
        "release_has_who_and_why")
    refused_by_the_database(
        text("UPDATE payouts SET state = 'failed' WHERE id = :id").bindparams(id=payout.id),
        "ck_payouts_")



def test_an_account_named_in_another_buyers_claim_holds_the_payout_too(
        approve, create_user, create_order, create_discussion, finance):
    """One definition of who holds an account (claims.banking.named_accounts), for the
    hold and the abuse signals: a claim still under review names its account as much as a
    payout does, so a payout to it waits for a senior and the panel shows the same pair."""
    from signals.queries import buyers_sharing_accounts_with

    other = create_user("oskar@example.test", name="Oskar Other")
    order = create_order(buyer=other)
    create_discussion(order, age_hours=25)
    file(order, payout_account=IBAN)  # filed, nobody has decided it yet
    claim = approve()  # the first buyer's payout to the same account
    assert banking.buyers_sharing_account(IBAN, buyer_id=claim.buyer_id) == [other.id]
    assert [shared.user_id for shared in buyers_sharing_accounts_with(other.id)] == [
        claim.buyer_id]
    with pytest.raises(TransitionNotAllowed) as held:
        services.export_payouts(finance)
    assert held.value.code == "nothing_to_export"
