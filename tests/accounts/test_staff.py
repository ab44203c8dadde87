"""The staff page (issue 20): invitations, roles, deactivation, the last administrator."""

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts import staff
from accounts.models import RoleGrant, StaffInvitation, User, UserSession
from accounts.roles import Role
from arbiter import mail
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.notifications import OutboxEmail
from integrations.models import ApiToken
from tests.factories import PASSWORD, logged_in

NEW_PASSWORD = "a-long-new-staff-password"


@pytest.fixture
def admin(create_user):
    return create_user("admin@example.test", name="Ada Admin", roles=[Role.ADMIN])


def _invite(client, email="new@example.com", roles=("advisor",)):
    return client.post("/staff/people/invite", data={"email": email, "roles": list(roles)})


def _invitation_email(address="new@example.com") -> OutboxEmail:
    return db.session.scalars(select(OutboxEmail).where(OutboxEmail.to_address == address)
                              .order_by(OutboxEmail.id.desc())).first()


def _link(address="new@example.com") -> str:
    """The path of the link in the e-mail as it is sent (the part after the base URL)."""
    text = mail.render(_invitation_email(address)).text
    return re.search(r"/invitations/[A-Za-z0-9_-]+", text).group(0)


def _audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.id)))


def _roles_of(email: str) -> set[str]:
    return {grant.role.value for grant in db.session.scalars(
        select(RoleGrant).join(User, User.id == RoleGrant.user_id).where(User.email == email))}


# --- the page --------------------------------------------------------------------------


def test_the_staff_page_lists_staff_with_their_roles(client, auth, admin, create_user):
    create_user("finn@example.test", name="Finn Finance", roles=[Role.FINANCE])
    create_user("plain@example.test", name="Paula Plain")
    auth.login(admin.email)
    page = client.get("/staff/people")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Finn Finance" in html and "Ada Admin" in html
    assert "Paula Plain" not in html  # not staff


@pytest.mark.parametrize("role", [Role.ADVISOR, Role.SENIOR, Role.FINANCE])
def test_only_administrators_reach_the_staff_page(client, auth, create_user, role):
    person = create_user(roles=[role])
    auth.login(person.email)
    assert client.get("/staff/people").status_code == 403
    assert _invite(client).status_code == 403
    assert db.session.scalar(select(func.count(StaffInvitation.id))) == 0


def test_the_navigation_shows_only_the_pages_the_roles_reach(client, auth, admin, create_user):
    auth.login(admin.email)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/staff/people"' in html and 'href="/staff/outbox"' in html
    assert 'href="/staff/payouts"' not in html and 'href="/staff/appeals"' not in html
    auth.logout()
    finance = create_user(roles=[Role.FINANCE])
    auth.login(finance.email)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/staff/payouts"' in html
    assert 'href="/staff/people"' not in html and 'href="/staff/appeals"' not in html


# --- invitations -----------------------------------------------------------------------


def test_an_invitation_creates_the_account_with_its_roles(app, client, auth, admin):
    auth.login(admin.email)
    answer = _invite(client, roles=("advisor", "finance"))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    invitation = db.session.scalar(select(StaffInvitation))
    email = _invitation_email()
    token = _link().rsplit("/", 1)[1]
    # the database holds neither the token (only its hash) nor the link
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(email.context)
    assert invitation.expires_at - invitation.created_at == timedelta(hours=72)
    [invited] = _audit("staff.invited")
    assert invited.actor_id == admin.id
    assert invited.after["roles"] == ["advisor", "finance"]

    auth.logout()
    assert client.get(_link()).status_code == 200
    answer = client.post(_link(), data={"name": "Nina New", "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD})
    assert answer.status_code == 302
    assert _roles_of("new@example.com") == {"advisor", "finance"}
    [accepted] = _audit("staff.invitation_accepted")
    assert accepted.after["roles"] == ["advisor", "finance"]
    # signed in as the new person, who must set up the second factor before any staff page
    gated = client.get("/staff/claims")
    assert gated.status_code == 302 and "/second-factor" in gated.headers["Location"]
    assert email.template == "staff_invitation"


@pytest.mark.parametrize("locale, words", [("pl", "Zaproszenie"), ("en", "Invitation")])
def test_the_invitation_email_speaks_the_language(app, client, auth, admin, locale, words):
    auth.login(admin.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = locale
    _invite(client, roles=("senior",))
    rendered = mail.render(_invitation_email())
    assert words in rendered.subject
    assert _link() in rendered.text and _link() in rendered.html
    assert ("Starszy" if locale == "pl" else "Senior advisor") in rendered.text


def test_an_invitation_works_once(client, auth, admin):
    auth.login(admin.email)
    _invite(client)
    auth.logout()
    link = _link()
    client.post(link, data={"name": "Nina", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    client.post("/logout")
    assert client.get(link).status_code == 410
    again = client.post(link, data={"name": "Eve", "password": NEW_PASSWORD,
                                    "confirm": NEW_PASSWORD})
    assert again.status_code == 410
    assert db.session.scalar(select(func.count(User.id)).where(User.name == "Eve")) == 0


def test_an_invitation_expires_after_72_hours(client, auth, admin, time_machine):
    # a few seconds into a 30 s code step: the admin's code is typed without waiting
    time_machine.move_to("2026-03-02T10:00:05Z", tick=False)
    auth.login(admin.email)
    _invite(client)
    auth.logout()
    link = _link()
    time_machine.move_to("2026-03-05T10:00:04Z", tick=False)  # 72 h less a second
    assert client.get(link).status_code == 200
    time_machine.move_to("2026-03-05T10:00:05Z", tick=False)
    assert client.get(link).status_code == 410
    answer = client.post(link, data={"name": "Late", "password": NEW_PASSWORD,
                                     "confirm": NEW_PASSWORD})
    assert answer.status_code == 410
    assert db.session.scalar(select(User).where(User.email == "new@example.com")) is None


def test_a_wrong_token_is_404(client, auth, admin):
    auth.login(admin.email)
    _invite(client)
    auth.logout()
    assert client.get("/invitations/not-the-token").status_code == 404
    assert client.get(_link() + "x").status_code == 404


def test_a_new_invitation_replaces_the_pending_one(client, auth, admin):
    auth.login(admin.email)
    _invite(client, roles=("advisor",))
    first = _link()
    _invite(client, roles=("finance",))
    auth.logout()
    assert client.get(first).status_code == 410
    assert client.get(_link()).status_code == 200
    assert db.session.scalar(select(func.count(StaffInvitation.id)).where(
        StaffInvitation.revoked_at.is_(None))) == 1


def test_an_existing_account_gets_the_roles_only_after_signing_in(client, auth, admin,
                                                                  create_user):
    member = create_user("member@example.com", name="Mia Member")
    auth.login(admin.email)
    _invite(client, email=member.email, roles=("senior",))
    auth.logout()
    link = _link(member.email)
    page = client.get(link)
    assert page.status_code == 200 and "data-sign-in" in page.get_data(as_text=True)
    # a form post without signing in creates nothing and grants nothing
    client.post(link, data={"name": "Mallory", "password": NEW_PASSWORD,
                            "confirm": NEW_PASSWORD})
    assert _roles_of(member.email) == set()
    # someone else signed in cannot take the roles
    other = create_user("other@example.test")
    auth.login(other.email)
    assert client.post(link).status_code == 403
    assert _roles_of(other.email) == set() and _roles_of(member.email) == set()
    auth.logout()
    auth.login(member.email)
    assert client.post(link).status_code == 302
    assert _roles_of(member.email) == {"senior"}
    # now staff: the second factor comes first, then the appeals queue
    gated = client.get("/staff/appeals")
    assert gated.status_code == 302 and "/second-factor" in gated.headers["Location"]
    auth.logout()
    assert client.get(link).status_code == 410


def test_inviting_bad_input_is_422(client, auth, admin):
    auth.login(admin.email)
    assert _invite(client, email="not-an-address").status_code == 422
    assert _invite(client, roles=()).status_code == 422
    assert _invite(client, roles=("emperor",)).status_code == 422
    assert db.session.scalar(select(func.count(StaffInvitation.id))) == 0


# --- roles -----------------------------------------------------------------------------


def test_changing_roles_is_audited(client, auth, admin, create_user):
    person = create_user(roles=[Role.ADVISOR])
    auth.login(admin.email)
    answer = client.post(f"/staff/people/{person.id}/roles",
                         data={f"user-{person.id}-roles": ["senior", "finance"]})
    assert answer.status_code == 302
    assert _roles_of(person.email) == {"senior", "finance"}
    [entry] = _audit("staff.roles_changed")
    assert (entry.actor_id, entry.before, entry.after) == (
        admin.id, {"roles": ["advisor"]}, {"roles": ["finance", "senior"]})


def test_the_last_admin_cannot_remove_their_own_admin_role(client, auth, admin):
    auth.login(admin.email)
    answer = client.post(f"/staff/people/{admin.id}/roles",
                         data={f"user-{admin.id}-roles": ["advisor"]})
    assert answer.status_code == 409
    assert "last active administrator" in answer.get_data(as_text=True)
    assert _roles_of(admin.email) == {"admin"}
    assert _audit("staff.roles_changed") == []


def test_an_admin_may_step_down_when_another_remains(client, auth, admin, create_user):
    create_user("second@example.test", roles=[Role.ADMIN])
    auth.login(admin.email)
    answer = client.post(f"/staff/people/{admin.id}/roles",
                         data={f"user-{admin.id}-roles": ["advisor"]})
    assert answer.status_code == 302
    assert _roles_of(admin.email) == {"advisor"}
    assert client.get("/staff/people").status_code == 403


def test_a_deactivated_admin_does_not_count_as_the_other_admin(client, auth, admin,
                                                                create_user):
    second = create_user("second@example.test", roles=[Role.ADMIN])
    staff.deactivate(admin, second.id)
    db.session.commit()
    auth.login(admin.email)
    answer = client.post(f"/staff/people/{admin.id}/deactivate")
    assert answer.status_code == 409
    assert db.session.get(User, admin.id).deactivated_at is None


# --- deactivation ----------------------------------------------------------------------


def test_deactivation_revokes_sessions_and_tokens_at_once(app, client, auth, admin,
                                                          create_user, token_for, api):
    person = create_user("advisor@example.test", roles=[Role.ADVISOR])
    token = token_for(person)
    browser = app.test_client()
    logged_in(browser, person)
    assert browser.get("/staff/claims").status_code == 200
    assert api.get("/api/v1/staff/claims", token=token).status_code == 200

    auth.login(admin.email)
    assert client.post(f"/staff/people/{person.id}/deactivate").status_code == 302
    assert db.session.scalar(select(func.count(UserSession.id)).where(
        UserSession.user_id == person.id)) == 0
    assert db.session.scalar(select(func.count(ApiToken.id)).where(
        ApiToken.user_id == person.id, ApiToken.revoked_at.is_(None))) == 0
    [entry] = _audit("staff.deactivated")
    assert entry.actor_id == admin.id
    assert entry.after["sessions_ended"] == 1 and entry.after["tokens_revoked"] == 1

    assert browser.get("/staff/claims").status_code == 302  # to the login page
    assert api.get("/api/v1/staff/claims", token=token).status_code == 401
    refused = app.test_client().post("/login", data={"email": person.email,
                                                      "password": PASSWORD})
    assert refused.status_code == 401
    assert "data-staff-member" in client.get("/staff/people").get_data(as_text=True)

    assert client.post(f"/staff/people/{person.id}/reactivate").status_code == 302
    assert _audit("staff.reactivated")[0].actor_id == admin.id
    assert api.get("/api/v1/staff/claims", token=token).status_code == 401  # stays revoked
    again = app.test_client().post("/login", data={"email": person.email,
                                                    "password": PASSWORD})
    assert again.status_code == 302


def test_the_last_admin_cannot_deactivate_themselves(client, auth, admin):
    auth.login(admin.email)
    answer = client.post(f"/staff/people/{admin.id}/deactivate")
    assert answer.status_code == 409
    assert db.session.get(User, admin.id).deactivated_at is None
    assert client.get("/staff/people").status_code == 200  # still signed in


def test_a_deactivated_address_is_not_invited(client, auth, admin, create_user):
    person = create_user("gone@example.com", roles=[Role.ADVISOR])
    staff.deactivate(admin, person.id)
    db.session.commit()
    auth.login(admin.email)
    assert _invite(client, email=person.email).status_code == 409
    assert db.session.scalar(select(func.count(StaffInvitation.id))) == 0


def test_a_member_without_roles_is_not_deactivated_here(client, auth, admin, create_user):
    member = create_user("plain@example.com")
    auth.login(admin.email)
    assert client.post(f"/staff/people/{member.id}/deactivate").status_code == 409
    assert db.session.get(User, member.id).deactivated_at is None


def test_deleting_the_account_deletes_its_invitations(client, auth, admin, create_user):
    from accounts import deletion

    member = create_user("member@example.com")
    auth.login(admin.email)
    _invite(client, email=member.email, roles=("finance",))
    auth.logout()
    link = _link(member.email)
    auth.login(member.email)
    client.post(link)
    assert _roles_of(member.email) == {"finance"}
    deletion.delete_account(db.session.get(User, member.id), PASSWORD)
    db.session.commit()
    assert db.session.scalar(select(func.count(StaffInvitation.id))) == 0
    [entry] = _audit("user.deleted")
    assert entry.after["staff_invitations_deleted"] == 1


def test_an_admin_who_deactivates_themselves_is_logged_out(client, auth, admin, create_user):
    create_user("second@example.test", roles=[Role.ADMIN])
    auth.login(admin.email)
    answer = client.post(f"/staff/people/{admin.id}/deactivate")
    assert answer.status_code == 302 and answer.location.startswith("/login")
    assert client.get("/staff/people").status_code == 302  # the session is gone
    assert auth.login(admin.email).status_code == 401
