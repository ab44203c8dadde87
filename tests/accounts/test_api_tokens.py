"""A person's API tokens (issue 25 item 5): a password change, a deactivation and a deletion
revoke every one of them; the account page lists them (name, created, last used) and
revokes one (POST, audited, 404 for anyone else's)."""

from datetime import timedelta

from sqlalchemy import select

from accounts import staff as staff_service
from accounts.roles import Role
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from integrations import tokens
from integrations.models import ApiToken
from tests.factories import PASSWORD

NEW_PASSWORD = "violet submarine orchestra"


def _issue(user, name):
    issued = tokens.issue_user_token(user, name)
    db.session.commit()
    return issued


def test_a_password_change_revokes_every_api_token(auth, client, api, buyer):
    first, second = _issue(buyer, "phone app").token, _issue(buyer, "script").token
    assert api.get("/api/v1/discussions", token=first).status_code == 200
    auth.login(buyer.email)
    assert client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD}).status_code == 302
    assert api.get("/api/v1/discussions", token=first).status_code == 401
    assert api.get("/api/v1/discussions", token=second).status_code == 401
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "user.password_changed"))
    assert entry.after["api_tokens_revoked"] == 2


def test_a_deactivation_and_a_deletion_revoke_every_api_token(api, create_user):
    admin = create_user("boss@example.test", roles=[Role.ADMIN])
    advisor = create_user("adv@example.test", roles=[Role.ADVISOR])
    leaving = create_user("leaving@example.test")
    advisor_token, leaving_token = _issue(advisor, "cli").token, _issue(leaving, "cli").token

    staff_service.deactivate(admin, advisor.id)
    from accounts import deletion

    deletion.delete_account(leaving, PASSWORD)
    db.session.commit()
    assert api.get("/api/v1/discussions", token=advisor_token).status_code == 401
    assert api.get("/api/v1/discussions", token=leaving_token).status_code == 401
    assert db.session.scalar(select(ApiToken.id).where(ApiToken.revoked_at.is_(None))) is None


def test_the_account_page_lists_live_tokens_with_their_last_use(auth, client, api, buyer,
                                                                  time_machine):
    time_machine.move_to("2026-06-01T10:00:00Z", tick=False)
    used = _issue(buyer, "phone app")
    _issue(buyer, "never used")
    gone = _issue(buyer, "old script")
    tokens.revoke(gone.row)
    db.session.commit()
    time_machine.move_to("2026-06-01T12:30:00Z", tick=False)
    assert api.get("/api/v1/discussions", token=used.token).status_code == 200

    auth.login(buyer.email)
    page = client.get("/account").text
    assert "phone app" in page and "never used" in page
    assert "old script" not in page
    row = page[page.index(f'data-api-token="{used.row.id}"'):]
    row = row[:row.index("</tr>")]
    assert "<td>1 Jun 2026, 12:00</td>" in row  # created, Warsaw time (UTC+2)
    assert "<td>1 Jun 2026, 14:30</td>" in row  # last used


def test_last_use_is_written_at_most_once_a_minute(api, buyer, time_machine):
    time_machine.move_to("2026-06-01T10:00:00Z", tick=False)
    issued = _issue(buyer, "poller")
    api.get("/api/v1/discussions", token=issued.token)
    db.session.refresh(issued.row)
    first = issued.row.last_used_at
    assert first == clock.now()
    time_machine.move_to("2026-06-01T10:00:40Z", tick=False)
    api.get("/api/v1/discussions", token=issued.token)
    db.session.refresh(issued.row)
    assert issued.row.last_used_at == first  # no write within the minute
    time_machine.move_to("2026-06-01T10:01:05Z", tick=False)
    api.get("/api/v1/discussions", token=issued.token)
    db.session.refresh(issued.row)
    assert issued.row.last_used_at == first + timedelta(seconds=65)


def test_revoking_a_token_from_the_account_page(auth, client, api, buyer, seller):
    mine = _issue(buyer, "phone app")
    theirs = _issue(seller, "seller's script")
    auth.login(buyer.email)

    # someone else's token: 404, and it keeps working
    assert client.post(f"/account/tokens/{theirs.row.id}/revoke").status_code == 404
    assert api.get("/api/v1/discussions", token=theirs.token).status_code == 200

    response = client.post(f"/account/tokens/{mine.row.id}/revoke")
    assert response.status_code == 302
    assert api.get("/api/v1/discussions", token=mine.token).status_code == 401
    assert f'data-api-token="{mine.row.id}"' not in client.get("/account").text
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoked"))
    assert entry.actor_id == buyer.id and entry.object_id == str(mine.row.id)
    # revoking it again finds nothing
    assert client.post(f"/account/tokens/{mine.row.id}/revoke").status_code == 404
