"""Staff sign in with a second factor: enrolment with a QR code, the code at every login,
replay and recovery codes, the gate in front of every page and the API, the throttle."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from accounts import second_factor
from accounts.models import RecoveryCode, RoleGrant, SecondFactor, UserSession
from accounts.roles import Role
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from integrations.models import ApiToken
from tests.factories import PASSWORD, SECOND_STEP, enrol

ENROL = "/account/second-factor"
T0 = datetime(2026, 6, 1, 10, 0, 5, tzinfo=UTC)  # 5 s into a 30-second step


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def _factor(user) -> SecondFactor:
    return db.session.execute(select(SecondFactor).where(SecondFactor.user_id == user.id)
                              .execution_options(populate_existing=True)).scalar_one()


def _code(user, at: datetime | None = None) -> str:
    return pyotp.TOTP(_factor(user).secret).at(at or clock.now())


def _password_step(client, user):
    return client.post("/login", data={"email": user.email, "password": PASSWORD})


def _audit(action: str, user) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.object_id == str(user.id))))


def _sessions(user) -> list[UserSession]:
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                   .execution_options(populate_existing=True)))


# --- enrolment ------------------------------------------------------------------------------


def test_a_staff_member_enrols_with_a_qr_code_drawn_here_and_gets_ten_recovery_codes(
        client, create_user, frozen):
    advisor = create_user(roles=[Role.ADVISOR], enrolled=False)
    login = _password_step(client, advisor)
    assert login.status_code == 302 and login.headers["Location"].startswith(ENROL)

    page = client.get(ENROL)
    assert page.status_code == 200
    factor = _factor(advisor)
    assert factor.confirmed_at is None and len(factor.secret) == 32
    assert re.search(r'<svg[^>]*class="qr-code"', page.text)  # inline, no image service
    assert "http" not in page.text.split('class="qr-code"')[1].split("</svg>")[0]
    assert second_factor.grouped(factor.secret) in page.text  # for typing by hand

    wrong = client.post(ENROL, data={"code": "000000"})
    assert wrong.status_code == 422 and "does not match" in wrong.text
    assert _factor(advisor).confirmed_at is None

    done = client.post(ENROL, data={"code": _code(advisor)})
    assert done.status_code == 200
    shown = re.findall(r"<code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code>",
                       done.text)
    assert len(set(shown)) == 10
    stored = set(db.session.scalars(select(RecoveryCode.code_hash).where(
        RecoveryCode.user_id == advisor.id)))
    assert stored == {hashlib.sha256(code.replace("-", "").encode()).hexdigest()
                      for code in shown}  # only hashes are kept
    assert _factor(advisor).confirmed_at == T0
    assert [s.second_factor_at for s in _sessions(advisor)] == [T0]  # this session passed
    assert len(_audit("second_factor.enrolled", advisor)) == 1
    assert client.get("/staff/escalations").status_code == 200

    # the codes are never shown again; the enrolment page now leads to the account
    assert client.get(ENROL).headers["Location"].endswith("/account")
    account = client.get("/account").text
    assert 'data-second-factor="on"' in account and "cannot be turned off" in account
    assert "You have 10 unused recovery codes." in account
    assert not any(code in account for code in shown)


def test_starting_again_replaces_an_unfinished_secret(client, create_user):
    advisor = create_user(roles=[Role.ADVISOR], enrolled=False)
    _password_step(client, advisor)
    first = _factor(advisor).secret
    stale = pyotp.TOTP(first).now()
    assert client.post(f"{ENROL}/start").status_code == 302
    assert _factor(advisor).secret != first
    refused = client.post(ENROL, data={"code": stale})
    assert refused.status_code == 422


def test_people_who_are_not_staff_have_nothing_to_enrol_and_log_in_as_before(
        client, auth, buyer):
    login = auth.login(buyer.email)
    assert login.status_code == 302 and login.headers["Location"] == "/"
    assert client.get("/purchases").status_code == 200
    assert client.get("/account").status_code == 200
    assert "second-factor" not in client.get("/account").text
    assert client.get(ENROL).headers["Location"].endswith("/account")
    assert db.session.scalar(select(func.count()).select_from(SecondFactor)) == 0


# --- the code at login ----------------------------------------------------------------------


def test_login_asks_staff_for_the_code_before_anything_else(client, create_user, frozen):
    staff = create_user(is_staff=True)
    login = client.post("/login?next=/staff/payouts",
                        data={"email": staff.email, "password": PASSWORD})
    assert login.status_code == 302
    assert login.headers["Location"] == f"{SECOND_STEP}?next=/staff/payouts"
    assert _sessions(staff)[0].second_factor_at is None
    assert client.get("/staff/payouts").headers["Location"].startswith(SECOND_STEP)

    page = client.get(SECOND_STEP)
    assert page.status_code == 200 and "authenticator app" in page.text
    passed = client.post(f"{SECOND_STEP}?next=/staff/payouts", data={"code": _code(staff)})
    assert passed.status_code == 302 and passed.headers["Location"] == "/staff/payouts"
    assert _sessions(staff)[0].second_factor_at == T0
    assert client.get("/staff/payouts").status_code == 200


def test_a_wrong_code_is_refused_and_the_session_stays_locked(client, create_user, frozen):
    staff = create_user(is_staff=True)
    _password_step(client, staff)
    right = _code(staff)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    # The password step counts too until the code completes the sign-in: four tries left.
    for code in (wrong, "12345", ""):
        response = client.post(SECOND_STEP, data={"code": code})
        assert response.status_code in (401, 422), code
    assert "wrong or was already used" in client.post(SECOND_STEP, data={"code": wrong}).text
    assert _sessions(staff)[0].second_factor_at is None
    assert client.get("/staff/escalations").headers["Location"].startswith(SECOND_STEP)


def test_a_code_is_accepted_once_then_only_a_later_step(client, auth, create_user, frozen):
    staff = create_user(is_staff=True)
    _password_step(client, staff)
    now_code = _code(staff)
    assert client.post(SECOND_STEP, data={"code": now_code}).status_code == 302
    auth.logout()

    _password_step(client, staff)  # again, within the same 30 seconds
    replay = client.post(SECOND_STEP, data={"code": now_code})
    assert replay.status_code == 401 and "already used" in replay.text
    earlier = _code(staff, T0 - timedelta(seconds=30))  # inside the window, but older
    assert client.post(SECOND_STEP, data={"code": earlier}).status_code == 401
    assert _sessions(staff)[0].second_factor_at is None

    frozen.move_to(T0 + timedelta(seconds=30), tick=False)  # the phone shows the next code
    assert client.post(SECOND_STEP, data={"code": _code(staff)}).status_code == 302
    assert client.get("/staff/escalations").status_code == 200


def test_codes_two_steps_away_are_refused(client, create_user, frozen):
    staff = create_user(is_staff=True)
    _password_step(client, staff)
    for offset in (-60, 60):
        code = _code(staff, T0 + timedelta(seconds=offset))
        assert client.post(SECOND_STEP, data={"code": code}).status_code == 401, offset
    # the next step (a phone whose clock runs ahead) is within the window
    ahead = _code(staff, T0 + timedelta(seconds=30))
    assert client.post(SECOND_STEP, data={"code": ahead}).status_code == 302


def test_a_recovery_code_works_once(client, auth, create_user, frozen):
    staff = create_user(is_staff=True, enrolled=False)
    codes = enrol(staff)
    db.session.commit()

    _password_step(client, staff)
    used = client.post(SECOND_STEP, data={"code": codes[3].lower().replace("-", " ")},
                       follow_redirects=True)
    assert used.status_code == 200 and "9 are left" in used.text
    assert len(_audit("second_factor.recovery_code_used", staff)) == 1
    assert client.get("/staff/escalations").status_code == 200
    auth.logout()

    _password_step(client, staff)
    again = client.post(SECOND_STEP, data={"code": codes[3]})
    assert again.status_code == 401
    assert _sessions(staff)[0].second_factor_at is None
    assert client.post(SECOND_STEP, data={"code": codes[4]}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == staff.id, RecoveryCode.used_at.is_(None))) == 8


def test_someone_elses_recovery_code_is_refused(client, create_user):
    first, second = create_user(is_staff=True, enrolled=False), create_user(is_staff=True)
    codes = enrol(first)
    db.session.commit()
    _password_step(client, second)
    assert client.post(SECOND_STEP, data={"code": codes[0]}).status_code == 401


# --- the gate -------------------------------------------------------------------------------

STAFF_PAGES = ["/", "/staff/escalations", "/staff/claims", "/staff/appeals", "/staff/payouts",
               "/staff/dashboard/charts", "/staff/outbox", "/account", "/notifications",
               "/purchases", "/account/password"]


@pytest.mark.parametrize("enrolled", [False, True], ids=["not enrolled", "enrolled"])
def test_a_staff_session_without_its_second_factor_reaches_nothing_else(
        client, api, create_user, token_for, enrolled):
    admin = create_user(is_staff=True, enrolled=enrolled)
    first_stop = SECOND_STEP if enrolled else ENROL
    assert _password_step(client, admin).headers["Location"].startswith(first_stop)
    for path in STAFF_PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith(SECOND_STEP), path
        assert client.get(response.headers["Location"]).status_code in (200, 302), path
    # a form posted with the session changes nothing
    assert client.post("/staff/payouts/export").headers["Location"].startswith(SECOND_STEP)
    # the API, with the session's cookie: a JSON refusal
    refused = client.get("/api/v1/events")
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "second_factor_required"
    # the second-factor pages themselves, linking nowhere else, and logging out
    page = client.get(first_stop)
    assert page.status_code == 200
    links = set(re.findall(r'href="(/[^"]*)"', page.text)) - {"/"}
    assert not {link for link in links if not link.startswith("/static/")}, links
    assert client.post("/logout").status_code == 302
    assert client.get("/staff/escalations").headers["Location"].startswith("/login")


def test_a_staff_token_without_a_second_factor_is_refused_by_the_api(api, create_user,
                                                                      token_for):
    staff = create_user(is_staff=True, enrolled=False)
    response = api.get("/api/v1/events", token=token_for(staff))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "second_factor_required"
    enrol(staff)
    db.session.commit()
    assert api.get("/api/v1/events", token=token_for(staff)).status_code == 200


def test_someone_given_a_role_while_logged_in_must_pass_the_second_factor(
        client, auth, create_user):
    person = create_user()
    auth.login(person.email)
    assert client.get("/purchases").status_code == 200
    db.session.add(RoleGrant(user_id=person.id, role=Role.ADVISOR, granted_at=clock.now()))
    db.session.commit()
    response = client.get("/purchases")
    assert response.status_code == 302 and response.headers["Location"].startswith(SECOND_STEP)
    # no app yet: the set-up page offers to make a key (a GET writes nothing), then shows it
    assert client.get(SECOND_STEP).headers["Location"].startswith(ENROL)
    offer = client.get(ENROL)
    assert offer.status_code == 200 and "qr-code" not in offer.text
    assert client.post(f"{ENROL}/start").status_code == 302
    assert 'class="qr-code"' in client.get(ENROL).text
    assert client.post(ENROL, data={"code": _code(person)}).status_code == 200
    assert client.get("/purchases").status_code == 200


def test_changing_the_password_keeps_the_second_factor_of_the_session(client, auth,
                                                                      create_user):
    staff = create_user(is_staff=True)
    auth.login(staff.email)
    changed = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "another long one",
        "confirm": "another long one"})
    assert changed.status_code == 302
    assert client.get("/staff/escalations").status_code == 200
    assert [s.second_factor_at is not None for s in _sessions(staff)] == [True]


# --- throttling -----------------------------------------------------------------------------


def test_wrong_codes_count_like_wrong_passwords_and_end_in_429(client, create_user, frozen):
    staff = create_user(is_staff=True)
    assert client.post("/login", data={"email": staff.email, "password": "wrong password!"}
                       ).status_code == 401
    assert client.post("/login", data={"email": staff.email, "password": "wrong password!"}
                       ).status_code == 401
    # A right password is not a finished sign-in yet: it counts until the code is right.
    _password_step(client, staff)
    for _ in range(2):
        assert client.post(SECOND_STEP, data={"code": "000000"}).status_code == 401
    # five attempts in the minute: even the right code is now too many
    assert client.post(SECOND_STEP, data={"code": _code(staff)}).status_code == 429
    frozen.move_to(T0 + timedelta(seconds=61), tick=False)
    assert client.post(SECOND_STEP, data={"code": _code(staff)}).status_code == 302
    client.post("/logout")
    # the other way round: wrong codes then bar the password step too
    frozen.move_to(T0 + timedelta(seconds=122), tick=False)
    _password_step(client, staff)
    for _ in range(4):
        assert client.post(SECOND_STEP, data={"code": "000000"}).status_code == 401
    client.post("/logout")
    assert _password_step(client, staff).status_code == 429


# --- recovery codes on the account page ------------------------------------------------------


def test_new_recovery_codes_need_a_current_code_and_replace_the_old_ones(
        client, auth, create_user, frozen):
    staff = create_user(is_staff=True, enrolled=False)
    old = enrol(staff)
    db.session.commit()
    frozen.move_to(T0 + timedelta(seconds=30), tick=False)
    auth.login(staff.email)
    page = client.get("/account/second-factor/recovery-codes")
    assert page.status_code == 200 and "10 unused recovery codes" in page.text

    assert client.post("/account/second-factor/recovery-codes",
                       data={"code": old[0]}).status_code == 401  # the app's code, not these
    frozen.move_to(T0 + timedelta(seconds=60), tick=False)
    made = client.post("/account/second-factor/recovery-codes", data={"code": _code(staff)})
    assert made.status_code == 200
    new = re.findall(r"<code>([A-Z2-7-]{19})</code>", made.text)
    assert len(set(new)) == 10 and not set(new) & set(old)
    assert len(_audit("second_factor.recovery_codes_regenerated", staff)) == 1
    auth.logout()

    frozen.move_to(T0 + timedelta(seconds=90), tick=False)
    _password_step(client, staff)
    assert client.post(SECOND_STEP, data={"code": old[1]}).status_code == 401
    assert client.post(SECOND_STEP, data={"code": new[1]}).status_code == 302


# --- API tokens -----------------------------------------------------------------------------


def test_a_staff_token_needs_a_code_from_the_app(api, create_user, frozen):
    staff = create_user(is_staff=True)
    body = {"email": staff.email, "password": PASSWORD}
    missing = api.post("/api/v1/auth/tokens", json=body)
    assert missing.status_code == 401
    assert missing.json["error"]["code"] == "second_factor_required"
    assert "otp" in missing.json["error"]["fields"]
    wrong = api.post("/api/v1/auth/tokens", json={**body, "otp": "000000"})
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "invalid_second_factor"
    code = _code(staff)
    issued = api.post("/api/v1/auth/tokens", json={**body, "otp": code})
    assert issued.status_code == 201
    assert api.get("/api/v1/events", token=issued.json["token"]).status_code == 200
    replay = api.post("/api/v1/auth/tokens", json={**body, "otp": code})
    assert replay.status_code == 401
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_wrong_token_codes_count_towards_the_login_throttle(api, create_user, frozen):
    staff = create_user(is_staff=True)
    body = {"email": staff.email, "password": PASSWORD}
    for _ in range(5):
        assert api.post("/api/v1/auth/tokens", json={**body, "otp": "000000"}
                        ).status_code == 401
    assert api.post("/api/v1/auth/tokens", json={**body, "otp": _code(staff)}
                    ).status_code == 429


def test_staff_without_an_app_get_no_token_and_others_need_no_code(api, create_user, buyer):
    staff = create_user(is_staff=True, enrolled=False)
    refused = api.post("/api/v1/auth/tokens",
                       json={"email": staff.email, "password": PASSWORD, "otp": "123456"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "second_factor_not_enrolled"
    assert api.post("/api/v1/auth/tokens", json={"email": buyer.email, "password": PASSWORD}
                    ).status_code == 201


def test_an_operator_resets_a_lost_second_factor(app, client, auth, create_user):
    staff = create_user(is_staff=True)
    auth.login(staff.email)
    result = app.test_cli_runner().invoke(args=["users", "reset-second-factor", staff.email])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(SecondFactor)) == 0
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    assert len(_audit("second_factor.reset", staff)) == 1
    # logged out everywhere; the next login sets up a new app
    assert client.get("/staff/escalations").headers["Location"].startswith("/login")
    assert _password_step(client, staff).headers["Location"].startswith(ENROL)
    again = app.test_cli_runner().invoke(args=["users", "reset-second-factor", "no@one.test"])
    assert again.exit_code != 0 and "no account" in again.output
