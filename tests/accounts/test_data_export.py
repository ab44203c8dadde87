"""Download my data: request -> background task -> notification -> the owner's ZIP, 7 days.

Status codes: request 302 (409 while one is pending); download 200 for the owner, 404 for
anyone else (staff included), 302 to the login page for anonymous visitors, 410 once the
7 days are over, 409 while it is still being prepared or after it failed.
"""

import io
import json
import os
import zipfile
from datetime import timedelta

import pytest
from flask import g
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from accounts import exports
from accounts.models import DataExport, ExportState, UserSession
from arbiter import audit, clock, documents
from arbiter.extensions import db
from arbiter.mail import render as render_email
from arbiter.notifications import Notification, OutboxEmail, text_for_kind
from arbiter.storage import storage
from arbiter.sweeper import run_sweep
from tests.claims.helpers import IBAN


def _request(client) -> DataExport:
    response = client.post("/account/data-export")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    return db.session.scalars(select(DataExport).order_by(DataExport.id.desc())).first()


def _open(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(response.data))


def _json(bundle: zipfile.ZipFile, name: str):
    return json.loads(bundle.read(name).decode("utf-8"))


def _files_in(app) -> set[str]:
    root = app.config["STORAGE_DIR"]
    return {name for _, _, names in os.walk(root) for name in names}


def test_export_end_to_end(app, client, auth, buyer, seller, staff, buyer_world):
    buyer.locale = "en"
    db.session.commit()
    auth.login(buyer.email)

    export = _request(client)  # the task ran after the request's commit
    db.session.refresh(export)
    assert export.state is ExportState.READY and export.progress == 100
    assert export.expires_at == export.ready_at + timedelta(days=7)
    assert [n.kind for n in db.session.scalars(select(Notification).where(
        Notification.user_id == buyer.id, Notification.kind.like("data_export.%")))] == [
        "data_export.ready"]
    email = db.session.scalar(select(OutboxEmail).where(
        OutboxEmail.template == "data_export_ready"))
    assert email.to_address == buyer.email and email.context["object_id"] == export.id
    rendered = render_email(email)  # in the buyer's language, linking to the account page
    assert rendered.subject == "Your Arbiter data export is ready"
    assert f"Your data export #{export.id} is ready" in rendered.text
    assert f"/account?export={export.id}" in rendered.text and "7 days" in rendered.html
    email.locale = "pl"
    assert render_email(email).subject == "Twój eksport danych z Arbitra jest gotowy"
    actions = [e.action for e in db.session.scalars(
        select(audit.AuditEntry).where(audit.AuditEntry.object_type == "data_exports")
        .order_by(audit.AuditEntry.id))]
    assert actions == ["data_export.requested", "data_export.preparing", "data_export.ready"]

    page = client.get("/account")
    assert page.status_code == 200
    assert f"/account/data-export/{export.id}/download" in page.text and "Ready" in page.text

    response = client.get(f"/account/data-export/{export.id}/download")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    bundle = _open(response)
    names = set(bundle.namelist())
    assert {"README.txt", "account.json", "orders.json", "discussions.json", "claims.json",
            "decisions.json", "evidence.json", "problem_reports.json", "notifications.json",
            "audit_log.json"} <= names

    account = _json(bundle, "account.json")
    assert (account["id"], account["email"], account["name"]) == (
        buyer.id, "buyer@example.test", "Barbara Buyer")
    assert "password_hash" not in account and "sessions" not in account

    orders = _json(bundle, "orders.json")
    assert len(orders) == 2 and {o["your_role"] for o in orders} == {"buyer"}
    assert orders[0]["other_party"] == "Stefan Seller" and orders[0]["item_price"] == "123.45"

    discussion = next(d for d in _json(bundle, "discussions.json")
                      if d["id"] == buyer_world.discussion.id)
    assert discussion["verdict"] == "partial" and discussion["refund_amount"] == "50.00"
    authors = [m["author"] for m in discussion["messages"] if m["kind"] == "message"]
    assert authors == ["you", "you", "seller"]  # the opening description, then the thread
    mine, theirs = (m for m in discussion["messages"] if m["attachments"])
    assert mine["body"] == "Photos of the cracked lamp attached."
    assert mine["attachments"][0]["file"].startswith("evidence/discussion-")
    assert theirs["attachments"][0]["uploaded_by"] == "someone else"
    assert theirs["attachments"][0]["file"] is None
    assert {m["author"] for m in discussion["messages"]} <= {"you", "seller", "platform",
                                                              "system"}

    claims = {c["id"]: c for c in _json(bundle, "claims.json")}
    claim = claims[buyer_world.exported_claim.id]
    assert claim["payout_account"] == IBAN and claim["approved_amount"] == "138.45"
    assert claim["payout"]["state"] == "exported" and claim["payout"]["amount"] == "138.45"
    assert claim["documents"][0]["file"].startswith("evidence/claim-")

    decisions = _json(bundle, "decisions.json")
    assert len(decisions) == 4  # two verdicts (ARB) and two claim decisions (POK)
    verdict = documents.documents_for("discussions", buyer_world.discussion.id)[0]
    entry = next(d for d in decisions if d["number"] == verdict.number)
    assert bundle.read(entry["file"]) == storage().get(verdict.storage_key)
    assert entry["sha256"] == verdict.sha256

    evidence = _json(bundle, "evidence.json")
    assert {e["where"] for e in evidence} == {"discussion", "claim", "problem_report"}
    for item in evidence:
        assert item["file"] in names
    evidence_bytes = [bundle.read(e["file"]) for e in evidence]
    assert buyer_world.buyer_file in evidence_bytes
    assert buyer_world.seller_file not in evidence_bytes  # the seller's own file stays out

    assert _json(bundle, "problem_reports.json")[0]["what_happened"].startswith("The claim")
    notes = _json(bundle, "notifications.json")
    assert any(n["kind"] == "claim.approved" and n["text"] for n in notes)

    entries = _json(bundle, "audit_log.json")
    assert {"user.registered", "discussion.opened", "claim.filed"} <= {
        e["action"] for e in entries}
    assert all(e["by"] in ("you", "someone else", "system") for e in entries)
    taken = next(e for e in entries if e["action"] == "discussion.taken")
    assert taken["by"] == "someone else" and "assigned_staff_id" not in taken["after"]

    readme = bundle.read("README.txt").decode("utf-8")
    assert "This archive holds the personal data Arbiter keeps about you" in readme
    for name in ("account.json", "discussions.json", "evidence.json", "audit_log.json"):
        assert name in readme

    # what must not go in: other people's e-mail, secrets
    everything = b"".join(bundle.read(name) for name in names)
    assert seller.email.encode() not in everything and staff.email.encode() not in everything
    assert b"Sylwia Staff" not in b"".join(
        bundle.read(n) for n in names if n.endswith(".json") or n.endswith(".txt"))
    assert buyer.password_hash.encode() not in everything and b"argon2" not in everything
    for token_hash in db.session.scalars(select(UserSession.token_hash)):
        assert token_hash.encode() not in everything


def test_readme_is_in_the_owners_language(client, auth, buyer, buyer_world):
    buyer.locale = "pl"
    db.session.commit()
    auth.login(buyer.email)
    export = _request(client)
    bundle = _open(client.get(f"/account/data-export/{export.id}/download"))
    readme = bundle.read("README.txt").decode("utf-8")
    assert "Arbiter — kopia Twoich danych" in readme
    assert "This file." not in readme
    approved = next(n for n in _json(bundle, "notifications.json")
                    if n["kind"] == "claim.approved")
    with force_locale("pl"):
        expected = text_for_kind("claim.approved", {"object_id": approved["about_id"]})
    with force_locale("en"):
        assert approved["text"] != text_for_kind("claim.approved",
                                                 {"object_id": approved["about_id"]})
    assert approved["text"] == expected


def test_only_the_owner_downloads(app, client, auth, buyer, seller, staff, create_user):
    auth.login(buyer.email)
    export = _request(client)
    url = f"/account/data-export/{export.id}/download"
    assert client.get(url).status_code == 200
    auth.logout()

    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=")

    for other in (seller, staff, create_user()):
        auth.login(other.email)
        response = client.get(url)
        assert response.status_code == 404, other.email
        assert "Barbara" not in response.text
        auth.logout()
    auth.login(buyer.email)
    assert client.get(f"/account/data-export/{export.id + 999}/download").status_code == 404


def test_a_second_export_while_one_is_pending_is_409(client, auth, buyer):
    auth.login(buyer.email)
    exports.request_export(buyer)
    db.session.commit()
    g.pop("ready_tasks", None)  # the worker has not started it yet
    before = db.session.scalar(select(func.count(DataExport.id)))

    response = client.post("/account/data-export")
    assert response.status_code == 409
    assert "still being prepared" in response.text
    assert db.session.scalar(select(func.count(DataExport.id))) == before
    page = client.get("/account")
    assert "Requested" in page.text and 'http-equiv="refresh"' in page.text
    pending = db.session.scalar(select(DataExport).where(DataExport.user_id == buyer.id))
    download = client.get(f"/account/data-export/{pending.id}/download")
    assert download.status_code == 409 and "still being prepared" in download.text

    # and the database itself refuses a second pending export (the partial unique index)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(DataExport(user_id=buyer.id, state=ExportState.PREPARING,
                                  requested_at=clock.now()))
        db.session.flush()


def test_progress_is_shown_while_preparing(client, auth, buyer):
    auth.login(buyer.email)
    export = exports.request_export(buyer)
    export.state, export.progress = ExportState.PREPARING, 35
    db.session.commit()
    g.pop("ready_tasks", None)
    page = client.get("/account")
    assert 'data-export-state="preparing"' in page.text
    assert '<progress max="100" value="35"' in page.text and "Preparing" in page.text


def test_after_7_days_the_link_is_gone_and_the_sweeper_deletes_the_file(
        app, client, auth, buyer, time_machine):
    time_machine.move_to("2026-05-04T10:00:00Z", tick=False)
    auth.login(buyer.email)
    export = _request(client)
    key = export.storage_key
    assert key in _files_in(app)
    url = f"/account/data-export/{export.id}/download"

    time_machine.move_to("2026-05-11T09:59:59Z", tick=False)  # 7 days less a second
    assert client.get(url).status_code == 200
    time_machine.move_to("2026-05-11T10:00:00Z", tick=False)
    gone = client.get(url)
    assert gone.status_code == 410
    assert "expired" in gone.text and "7 days" in gone.text

    # The test's own session opened its transaction (a savepoint on the shared connection)
    # before the requests that built the export: end it, as the sweeper's process would
    # start fresh, so a job that rolls its empty batch back cannot take theirs with it.
    db.session.commit()
    results = run_sweep()
    assert results["data_export.expire"] == 1
    db.session.refresh(export)
    assert export.state is ExportState.EXPIRED and export.storage_key is None
    assert key not in _files_in(app)
    assert client.get(url).status_code == 410
    assert "expired" in client.get("/account").text.lower()
    assert run_sweep()["data_export.expire"] == 0  # once


def test_a_failed_export_says_so_and_may_be_asked_again(client, auth, buyer, monkeypatch):
    def broken(archive):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "_decisions", broken)
    auth.login(buyer.email)
    export = _request(client)
    db.session.refresh(export)
    assert export.state is ExportState.FAILED and export.error == "RuntimeError"
    assert export.storage_key is None
    assert db.session.scalar(select(Notification.kind).where(
        Notification.user_id == buyer.id)) == "data_export.failed"
    response = client.get(f"/account/data-export/{export.id}/download")
    assert response.status_code == 409 and "could not be prepared" in response.text

    monkeypatch.undo()
    again = _request(client)
    db.session.refresh(again)
    assert again.id != export.id and again.state is ExportState.READY


def test_a_lost_export_fails_after_an_hour_so_the_person_can_ask_again(
        client, auth, buyer, time_machine):
    time_machine.move_to("2026-05-04T10:00:00Z", tick=False)
    export = exports.request_export(buyer)
    db.session.commit()
    g.pop("ready_tasks", None)  # the worker died with it
    time_machine.move_to("2026-05-04T10:59:59Z", tick=False)
    assert run_sweep()["data_export.give_up"] == 0
    time_machine.move_to("2026-05-04T11:00:00Z", tick=False)
    assert run_sweep()["data_export.give_up"] == 1
    db.session.refresh(export)
    assert export.state is ExportState.FAILED
    auth.login(buyer.email)
    assert client.post("/account/data-export").status_code == 302
    # the lost task, should it ever run, leaves the failed export alone
    assert exports.build(export.id).state is ExportState.FAILED


def test_the_account_page_needs_a_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post("/account/data-export").status_code == 302
