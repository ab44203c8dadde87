"""Settlement rows in a data export: the person's rows as buyer or seller, without the
other party's personal data; a deletion keeps them and waits for what a seller owes."""

import io
import json
import zipfile

from sqlalchemy import select

from accounts.models import DataExport
from accounts.personal_data import HOLDERS
from arbiter.extensions import db
from claims.banking import grouped
from settlements import services
from tests.claims.helpers import IBAN
from tests.settlements.conftest import POLICE_REFERENCE


def _export(client, auth, user) -> zipfile.ZipFile:
    auth.login(user.email)
    assert client.post("/account/data-export").status_code == 302
    export = db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)
                                .order_by(DataExport.id.desc())).first()
    response = client.get(f"/account/data-export/{export.id}/download")
    assert response.status_code == 200
    auth.logout()
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_each_party_exports_the_rows_of_their_orders(client, auth, story, buyer, seller,
                                                     second_staff):
    for user, role in ((buyer, "buyer"), (seller, "seller")):
        bundle = _export(client, auth, user)
        rows = json.loads(bundle.read("settlements.json"))
        assert [(r["id"], r["kind"], r["state"], r["amount"]) for r in rows] == [
            (story.promise.id, "partial_refund", "failed", "300.00"),
            (story.payout.id, "payout", "confirmed", "500.00"),
            (story.recovery.id, "recovery", "owed", "500.00")]
        assert {r["your_role"] for r in rows} == {role}
        assert rows[1]["settled_by"] == "someone else"  # finance, not named
        audit = json.loads(bundle.read("audit_log.json"))
        about = {(e["object_type"], e["object_id"]) for e in audit}
        assert ("settlements", str(story.recovery.id)) in about
        assert all(e["after"].get("settled_by_id") in (None, "you") for e in audit
                   if isinstance(e["after"], dict))
        if role == "seller":
            everything = b"".join(bundle.read(name) for name in bundle.namelist()
                                  if name.endswith((".json", ".txt"))).decode()
            for secret in (IBAN, grouped(IBAN), POLICE_REFERENCE):
                assert secret not in everything, secret
        assert "settlements.json" in bundle.read("README.txt").decode()


def test_a_seller_who_still_owes_cannot_delete_the_account_yet(story, seller):
    holder = next(h for h in HOLDERS if h.name == "settlements")
    assert holder.erase is None  # money records are kept
    assert holder.blockers(seller)
    services.marketplace_settles(story.recovery.id, confirmed=True)
    db.session.commit()
    assert holder.blockers(seller) == []
