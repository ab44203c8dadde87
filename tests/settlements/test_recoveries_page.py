"""Finance's recoveries page (issue 20): what each seller owes the platform, grouped by
seller with totals; each recovery marked recovered or written off (with a reason)."""

import html
import re

import pytest
from sqlalchemy import select

from accounts.models import RoleGrant, User
from accounts.roles import Role
from arbiter import audit
from arbiter.errors import ConflictOfInterest, NotFound, ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import Notification
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import SettledVia, SettlementState

WRITE_OFF = "The seller's company was dissolved; nothing left to recover."


@pytest.fixture
def finance(create_user):
    return create_user("fiona@example.test", name="Fiona Finance", roles=[Role.FINANCE])


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
                    .replace("\xa0", " ").split())


def _reread(row_id: int) -> Settlement:
    db.session.expire_all()
    return db.session.get(Settlement, row_id)


def test_finance_sees_what_each_seller_owes_with_totals(client, auth, story, finance, seller):
    auth.login(finance.email)
    response = client.get("/staff/recoveries")
    assert response.status_code == 200
    page = _text(response)
    assert f"{seller.name} {seller.email}" in page
    assert ("Owed: PLN 500.00 · recovered: PLN 0.00 · not recovered (written off or "
            "failed): PLN 0.00") in page
    assert story.order.external_id in page
    assert 'href="/staff/recoveries.csv"' in response.get_data(as_text=True)
    assert client.get("/staff/recoveries.csv").status_code == 200  # the CSV stays


def test_marking_a_recovery_recovered(client, auth, story, finance, seller):
    auth.login(finance.email)
    response = client.post(f"/staff/recoveries/{story.recovery.id}/recovered")
    assert response.status_code == 302
    row = _reread(story.recovery.id)
    assert (row.state, row.settled_via, row.settled_by_id) == (
        SettlementState.CONFIRMED, SettledVia.FINANCE, finance.id)
    assert db.session.scalar(select(Notification).where(
        Notification.kind == "settlement.recovered")).user_id == seller.id
    assert "recovered: PLN 500.00" in _text(client.get("/staff/recoveries"))
    # Once: the row is not owed any more.
    assert client.post(f"/staff/recoveries/{story.recovery.id}/recovered").status_code == 409
    assert client.post(f"/staff/recoveries/{story.recovery.id}/write-off",
                       data={"reason": WRITE_OFF}).status_code == 409


def test_a_write_off_needs_a_reason_and_is_audited(client, auth, story, finance):
    auth.login(finance.email)
    entries = audit.count()
    refused = client.post(f"/staff/recoveries/{story.recovery.id}/write-off",
                          data={"reason": "no"})
    assert refused.status_code == 422 and "Write why the recovery is written off" in refused.text
    assert _reread(story.recovery.id).state is SettlementState.OWED
    committed = story.order.compensation_committed
    response = client.post(f"/staff/recoveries/{story.recovery.id}/write-off",
                           data={"reason": WRITE_OFF})
    assert response.status_code == 302
    row = _reread(story.recovery.id)
    assert (row.state, row.note, row.settled_by_id) == (SettlementState.FAILED, WRITE_OFF,
                                                        finance.id)
    entry = db.session.scalar(select(audit.AuditEntry).where(
        audit.AuditEntry.action == "settlement.write_off"))
    assert entry.actor_id == finance.id and entry.after["note"] == WRITE_OFF
    assert audit.count() > entries
    page = _text(client.get("/staff/recoveries"))
    assert f"written off: {WRITE_OFF}" in page
    # The buyer's compensation is untouched: a recovery is between seller and platform.
    db.session.expire_all()
    assert story.order.compensation_committed == committed


def test_the_marketplace_confirming_over_the_api_shows_on_the_page(api, integration_token,
                                                                   client, auth, story,
                                                                   finance):
    response = api.post(f"/api/v1/settlements/{story.recovery.id}/confirm",
                        token=integration_token, json={"note": "TX-42"})
    assert response.status_code == 200 and response.json["state"] == "confirmed"
    auth.login(finance.email)
    assert "recovered: PLN 500.00" in _text(client.get("/staff/recoveries"))


def test_recoveries_are_finance_work(client, auth, story, create_user, finance, seller):
    advisor = create_user(roles=[Role.ADVISOR, Role.SENIOR, Role.ADMIN])
    auth.login(advisor.email)
    assert client.get("/staff/recoveries").status_code == 403
    assert client.post(f"/staff/recoveries/{story.recovery.id}/recovered").status_code == 403
    assert client.post(f"/staff/recoveries/{story.recovery.id}/write-off",
                       data={"reason": WRITE_OFF}).status_code == 403
    with pytest.raises(NotFound):
        ledger.write_off(story.recovery.id, advisor, WRITE_OFF)
    db.session.rollback()
    # Only recoveries: a payout row is not finance's to write off here.
    with pytest.raises(NotFound):
        ledger.write_off(story.payout.id, finance, WRITE_OFF)
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        ledger.write_off(story.recovery.id, finance, "")
    db.session.rollback()
    # The seller, even on the finance team, never settles their own debt.
    db.session.add(RoleGrant(user_id=seller.id, role=Role.FINANCE,
                             granted_at=story.recovery.created_at))
    db.session.commit()
    db.session.expire_all()
    with pytest.raises(ConflictOfInterest):
        ledger.mark_recovered(story.recovery.id, db.session.get(User, seller.id))
    db.session.rollback()
    assert _reread(story.recovery.id).state is SettlementState.OWED
