"""Delete my account: password again, anonymised in one commit, logged out everywhere.

Status codes: GET /account/delete 200 (302 to the login page when anonymous); POST with a
wrong password 422 (a form error, nothing changes); while the person has open cases, or
is the last administrator, 409 (nothing changes); otherwise 302 to the home page, logged out.
"""

import csv
import io
import os

from flask import g
from sqlalchemy import func, select

from accounts import exports
from accounts.deletion import UNUSABLE_PASSWORD
from accounts.models import DataExport, User, UserSession
from accounts.roles import Role
from arbiter import audit, documents
from arbiter.extensions import db
from arbiter.notifications import Notification, OutboxEmail
from arbiter.storage import storage
from arbiter.sweeper import run_sweep
from claims import services as claims
from claims.models import Claim, Payout, PayoutBatch
from claims.states import PayoutState
from integrations import tokens
from integrations.models import ApiToken
from tests.claims.helpers import IBAN
from tests.database import audit_log_problem
from tests.factories import PASSWORD


def _files_in(app) -> set[str]:
    root = app.config["STORAGE_DIR"]
    return {name for _, _, names in os.walk(root) for name in names}


def _snapshot(user: User) -> dict:
    db.session.expire_all()
    row = db.session.get(User, user.id)
    return {
        "user": (row.email, row.name, row.password_hash, row.roles, row.deleted_at),
        "sessions": db.session.scalar(select(func.count(UserSession.id))
                                      .where(UserSession.user_id == user.id)),
        "audit": audit.count(),
        "notifications": db.session.scalar(select(func.count(Notification.id))),
    }


def test_the_page_asks_for_the_password(client, auth, buyer):
    assert client.get("/account/delete").status_code == 302  # anonymous: to the login page
    auth.login(buyer.email)
    page = client.get("/account/delete")
    assert page.status_code == 200
    assert 'type="password"' in page.text and "cannot be undone" in page.text


def test_a_wrong_password_changes_nothing(client, auth, buyer, buyer_world):
    auth.login(buyer.email)
    before = _snapshot(buyer)
    response = client.post("/account/delete", data={"password": "not my password"})
    assert response.status_code == 422
    assert "The password is not correct." in response.text
    assert _snapshot(buyer) == before
    assert client.get("/account").status_code == 200  # still logged in
    empty = client.post("/account/delete", data={"password": ""})
    assert empty.status_code == 422 and _snapshot(buyer) == before


def test_deletion_anonymises_and_keeps_what_the_law_requires(
        app, client, auth, buyer, seller, staff, buyer_world, create_user):
    auth.login(buyer.email)
    other_device = app.test_client()
    other_device.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert other_device.post("/login", data={"email": buyer.email, "password": PASSWORD}
                             ).status_code == 302
    stolen_cookie = client.get_cookie("session").value
    api_token = tokens.issue_user_token(buyer).token
    db.session.commit()
    assert client.get("/api/v1/discussions", headers={
        "Authorization": f"Bearer {api_token}"}).status_code == 200
    export = exports.request_export(buyer)
    db.session.commit()
    g.pop("ready_tasks", None)
    exports.build(export.id)  # a ready export, with its ZIP in storage
    export_key = db.session.get(DataExport, export.id).storage_key
    screenshot_key = buyer_world.report.screenshot_key
    assert {export_key, screenshot_key} <= _files_in(app)
    verdict = documents.documents_for("discussions", buyer_world.discussion.id)[0]
    verdict_sha = verdict.sha256
    exported = buyer_world.exported_claim
    pending = buyer_world.pending_claim
    amounts = (exported.approved_amount, exported.payout.amount, pending.payout.amount)
    buyer_id = buyer.id

    response = client.post("/account/delete", data={"password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "has been deleted" in client.get("/").text

    db.session.expire_all()
    user = db.session.get(User, buyer_id)
    pseudonym = user.name.removeprefix("deleted-")
    assert user.name == f"deleted-{pseudonym}" and len(pseudonym) == 12
    assert user.email == f"deleted-{pseudonym}@invalid"
    assert user.password_hash == UNUSABLE_PASSWORD and user.deleted_at is not None
    assert user.locale is None and not user.is_staff

    # logged out everywhere: no session row; this browser, another one and a replayed
    # cookie are all sent to the login page; the API token is revoked
    assert db.session.scalar(select(func.count(UserSession.id))
                             .where(UserSession.user_id == buyer_id)) == 0
    assert client.get("/purchases").status_code == 302
    assert other_device.get("/purchases").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen_cookie)
    replayed = replay.get("/purchases")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]
    assert client.get("/api/v1/discussions", headers={
        "Authorization": f"Bearer {api_token}"}).status_code == 401
    assert db.session.scalar(select(func.count(ApiToken.id)).where(
        ApiToken.user_id == buyer_id, ApiToken.revoked_at.is_(None))) == 0

    # nobody can log in as the person any more, with the old or the new address
    assert client.post("/login", data={"email": "buyer@example.test",
                                       "password": PASSWORD}).status_code == 401
    assert client.post("/login", data={"email": user.email,
                                       "password": PASSWORD}).status_code == 401
    assert client.post("/login", data={"email": user.email,
                                       "password": UNUSABLE_PASSWORD}).status_code == 401

    # what is deleted or erased
    assert db.session.scalar(select(func.count(Notification.id))
                             .where(Notification.user_id == buyer_id)) == 0
    assert db.session.scalar(select(func.count(OutboxEmail.id)).where(
        OutboxEmail.to_address == "buyer@example.test")) == 0
    assert db.session.scalar(select(func.count(DataExport.id))
                             .where(DataExport.user_id == buyer_id)) == 0
    report = db.session.get(type(buyer_world.report), buyer_world.report.id)
    assert (report.what_happened, report.doing, report.screenshot_key) == ("—", "—", None)
    assert export_key not in _files_in(app) and screenshot_key not in _files_in(app)

    # payouts: the exported one loses its IBAN and name, the waiting one keeps them
    exported = db.session.get(Claim, exported.id)
    pending = db.session.get(Claim, pending.id)
    assert exported.payout_account == "" and exported.payout.account == ""
    assert exported.payout.beneficiary_name == ""
    assert pending.payout_account == IBAN and pending.payout.account == IBAN
    assert pending.payout.beneficiary_name == "Barbara Buyer"
    assert (exported.approved_amount, exported.payout.amount, pending.payout.amount) == amounts

    # the other party sees the pseudonym; the decision PDF stays, byte for byte
    auth.login(seller.email)
    thread = client.get(f"/discussions/{buyer_world.discussion.id}")
    assert thread.status_code == 200
    assert f"deleted-{pseudonym}" in thread.text and "Barbara" not in thread.text
    assert "buyer@example.test" not in thread.text
    pdf = client.get(f"/decisions/{verdict.number}/download")
    assert pdf.status_code == 200 and pdf.data == storage().get(verdict.storage_key)
    assert db.session.get(documents.DecisionDocument, verdict.id).sha256 == verdict_sha

    # one audit entry, no personal data in it, and the chain still holds
    entry = db.session.scalars(select(audit.AuditEntry).where(
        audit.AuditEntry.action == "user.deleted")).one()
    assert entry.actor_id == buyer_id and entry.object_id == str(buyer_id)
    assert entry.after["pseudonym"] == pseudonym
    assert entry.after["payout_details_kept_until_export"] == 1
    assert entry.after["payout_details_erased"] == 1
    assert "buyer@example.test" not in str(entry.after) and "Barbara" not in str(entry.after)
    assert audit_log_problem() is None

    # staff see the pseudonym too, and the address is free for a new account
    auth.logout()
    auth.login(staff.email)
    assert "Barbara" not in client.get(f"/claims/{pending.id}").text
    assert create_user("buyer@example.test").id != buyer_id


def test_a_waiting_payout_keeps_its_iban_until_export_then_the_sweeper_erases_it(
        client, auth, buyer, staff, buyer_world, colleague):
    pending = buyer_world.pending_claim
    auth.login(buyer.email)
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 302
    # The test's session began its savepoint before the request: end it, so that the
    # sweeper's rollbacks below cannot reach back into the request's committed work.
    db.session.commit()
    assert run_sweep()["account.erase_payout_details"] == 0  # still waiting: kept

    batch = claims.export_payouts(staff)
    db.session.commit()
    [row] = csv.DictReader(io.StringIO(storage().get(batch.csv_storage_key).decode()))
    assert (row["account"], row["beneficiary_name"]) == (IBAN, "Barbara Buyer")  # paid out

    assert run_sweep()["account.erase_payout_details"] == 1
    db.session.expire_all()
    claim = db.session.get(Claim, pending.id)
    assert claim.payout_account == "" and claim.payout.account == ""
    assert claim.payout.beneficiary_name == "" and claim.payout.state is PayoutState.EXPORTED
    assert claim.payout.amount == claim.approved_amount
    assert run_sweep()["account.erase_payout_details"] == 0  # once
    # the batch file handed to finance is an accounting record: it stays as it was
    stored = storage().get(db.session.get(PayoutBatch, batch.id).csv_storage_key)
    assert IBAN in stored.decode()
    # marking it paid tells nobody (the account is gone) and needs no IBAN
    assert claims.mark_batch_paid(batch.id, colleague)  # never the exporter
    db.session.commit()
    assert db.session.get(Payout, claim.payout.id).state is PayoutState.PAID
    assert db.session.scalar(select(func.count(OutboxEmail.id)).where(
        OutboxEmail.to_address.like("deleted-%"))) == 0
    assert audit_log_problem() is None


def test_open_cases_block_deletion_and_nothing_changes(client, auth, buyer, create_discussion):
    discussion = create_discussion(buyer=buyer)
    auth.login(buyer.email)
    before = _snapshot(buyer)
    page = client.get("/account/delete")
    assert "1 open discussion" in page.text
    response = client.post("/account/delete", data={"password": PASSWORD})
    assert response.status_code == 409
    assert "You take part in 1 open discussion." in response.text
    assert _snapshot(buyer) == before

    from disputes import services as disputes

    disputes.withdraw(discussion, buyer)
    db.session.commit()
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 302


def test_the_last_administrator_cannot_delete_the_account(client, auth, staff, create_user):
    auth.login(staff.email)
    before = _snapshot(staff)
    response = client.post("/account/delete", data={"password": PASSWORD})
    assert response.status_code == 409
    assert "last administrator" in response.text
    assert _snapshot(staff) == before

    create_user("only-an-advisor@example.test", roles=[Role.ADVISOR])
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 409
    create_user("second-admin@example.test", roles=[Role.ADMIN])
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 302
    db.session.expire_all()
    gone = db.session.get(User, staff.id)
    assert gone.deleted_at is not None and not gone.is_staff
    assert client.post("/login", data={"email": "staff@example.test",
                                       "password": PASSWORD}).status_code == 401


def test_nobody_is_notified_at_a_deleted_account(client, auth, buyer, seller, create_discussion):
    discussion = create_discussion(buyer=buyer, seller=seller)
    from disputes import services as disputes

    disputes.withdraw(discussion, buyer)
    db.session.commit()
    auth.login(seller.email)
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 302
    db.session.expire_all()  # the test's session loaded the seller before the request
    again = create_discussion(discussion.order, buyer=buyer)  # the seller is gone
    assert again.seller.deleted_at is not None
    assert db.session.scalars(select(Notification.kind)
                              .where(Notification.user_id == seller.id)).all() == []
