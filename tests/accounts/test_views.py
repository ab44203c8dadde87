import pytest
from sqlalchemy import select

from accounts.models import User, UserSession
from arbiter.extensions import db
from tests.factories import PASSWORD


def test_register_creates_an_unverified_account_and_sends_the_link(client):
    response = client.post("/register", data={
        "name": "Nowa Osoba", "email": "Nowa@Example.com",
        "password": "a sufficiently long one", "confirm": "a sufficiently long one",
    })
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    user = db.session.scalar(select(User).where(User.email == "nowa@example.com"))
    assert user is not None and not user.is_staff and user.verified_at is None
    assert user.password_hash.startswith("$argon2id$")
    assert client.get("/purchases").status_code == 302  # not logged in: log in first


@pytest.mark.parametrize(
    ("password", "expected"),
    [("short", "Between 12 and 128"), ("x" * 129, "Between 12 and 128")],
)
def test_register_refuses_passwords_outside_12_to_128(client, password, expected):
    response = client.post("/register", data={
        "name": "N", "email": "n@example.test", "password": password, "confirm": password,
    })
    assert response.status_code == 422
    assert expected in response.text
    assert db.session.scalar(select(User).where(User.email == "n@example.test")) is None


def test_password_of_exactly_12_and_128_characters_is_accepted(client):
    for index, password in enumerate(("x7#Qm2!vLp9z", "violet submarine " * 7 + "orchestra")):
        assert len(password) in (12, 128)
        response = client.post("/register", data={
            "name": "Edge", "email": f"edge{index}@example.com",
            "password": password, "confirm": password,
        })
        assert response.status_code == 302, response.text


def test_login_and_logout(auth, client, buyer):
    assert auth.login(buyer.email).status_code == 302
    assert client.get("/purchases").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/purchases").status_code == 302


def test_unknown_email_and_wrong_password_get_the_same_answer(auth, buyer):
    wrong_password = auth.login(buyer.email, "not the password")
    unknown_email = auth.login("nobody@example.test", "not the password")
    assert wrong_password.status_code == unknown_email.status_code == 401
    message = "Unknown e-mail address or wrong password."
    assert message in wrong_password.text and message in unknown_email.text


def test_sixth_failed_attempt_in_a_minute_is_429_even_with_the_right_password(auth, buyer):
    for _ in range(5):
        assert auth.login(buyer.email, "wrong password!").status_code == 401
    assert auth.login(buyer.email, PASSWORD).status_code == 429
    # other accounts are not affected
    assert auth.login("other@example.test", "wrong password!").status_code == 401


def _from(client, address: str):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_someone_guessing_from_elsewhere_does_not_lock_the_owner_out(app, client, auth, buyer):
    attacker = _from(app.test_client(), "203.0.113.66")
    for _ in range(8):
        attacker.post("/login", data={"email": buyer.email, "password": "guess guess!"})
    assert attacker.post("/login", data={"email": buyer.email, "password": PASSWORD}
                         ).status_code == 429
    assert auth.login(buyer.email, PASSWORD).status_code == 302  # the owner, at home


def test_one_address_spraying_a_password_over_many_accounts_is_throttled(app, create_user):
    sprayer = _from(app.test_client(), "198.51.100.7")
    victims = [create_user() for _ in range(21)]
    statuses = [sprayer.post("/login", data={"email": victim.email, "password": "Summer2026!"}
                             ).status_code for victim in victims]
    assert statuses == [401] * 20 + [429], statuses
    # ...while another address signs in to one of those accounts as usual.
    assert _from(app.test_client(), "192.0.2.10").post(
        "/login", data={"email": victims[-1].email, "password": PASSWORD}).status_code == 302


def test_the_wait_grows_with_the_failures(auth, buyer, time_machine):
    time_machine.move_to("2026-06-01T10:00:00Z", tick=False)
    for _ in range(5):
        auth.login(buyer.email, "wrong password!")
    assert auth.login(buyer.email).status_code == 429
    time_machine.move_to("2026-06-01T10:01:01Z", tick=False)  # a minute: five more tries
    for _ in range(5):
        assert auth.login(buyer.email, "wrong password!").status_code == 401
    # Ten in a quarter of an hour: another minute is no longer enough...
    time_machine.move_to("2026-06-01T10:02:01Z", tick=False)
    assert auth.login(buyer.email).status_code == 429
    # ...the quarter of an hour is.
    time_machine.move_to("2026-06-01T10:15:01Z", tick=False)
    assert auth.login(buyer.email).status_code == 302


def test_the_throttle_lifts_after_a_minute(auth, buyer, time_machine):
    time_machine.move_to("2026-06-01T10:00:00Z", tick=False)
    for _ in range(5):
        auth.login(buyer.email, "wrong password!")
    assert auth.login(buyer.email).status_code == 429
    time_machine.move_to("2026-06-01T10:01:01Z", tick=False)
    assert auth.login(buyer.email).status_code == 302


def test_successful_logins_do_not_count_towards_the_limit(auth, buyer):
    for _ in range(7):
        assert auth.login(buyer.email).status_code == 302
        auth.logout()


def test_a_successful_login_forgives_the_typos_before_it(auth, buyer):
    for _ in range(4):
        assert auth.login(buyer.email, "wrong password!").status_code == 401
    assert auth.login(buyer.email).status_code == 302
    auth.logout()
    for _ in range(4):
        assert auth.login(buyer.email, "wrong password!").status_code == 401
    assert auth.login(buyer.email).status_code == 302


def test_replayed_cookie_after_logout_is_refused(app, auth, client, buyer):
    auth.login(buyer.email)
    stolen = client.get_cookie("session").value
    auth.logout()
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/purchases")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_password_change_ends_every_other_session(app, auth, client, buyer):
    auth.login(buyer.email)
    other_device = app.test_client()
    other_device.post("/login", data={"email": buyer.email, "password": PASSWORD})
    old_cookie = client.get_cookie("session").value

    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "a brand new secret",
        "confirm": "a brand new secret",
    })
    assert response.status_code == 302
    assert client.get("/purchases").status_code == 200  # this browser stays logged in
    assert other_device.get("/purchases").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    assert replay.get("/purchases").status_code == 302
    assert db.session.scalar(
        select(db.func.count()).select_from(UserSession).where(UserSession.user_id == buyer.id)
    ) == 1


def test_password_change_needs_the_current_password(auth, client, buyer):
    auth.login(buyer.email)
    response = client.post("/account/password", data={
        "current_password": "not it at all", "new_password": "a brand new secret",
        "confirm": "a brand new secret",
    })
    assert response.status_code == 422
    assert "not correct" in response.text
    client.post("/logout")
    assert auth.login(buyer.email, PASSWORD).status_code == 302


def test_expired_sessions_are_refused(auth, client, buyer, time_machine):
    time_machine.move_to("2026-06-01T10:00:00Z", tick=False)
    assert auth.login(buyer.email).status_code == 302
    assert client.get("/purchases").status_code == 200
    time_machine.move_to("2026-06-16T10:00:01Z", tick=False)  # 14 days + 1 s later
    assert client.get("/purchases").status_code == 302


def test_login_redirects_only_to_local_paths(auth, buyer):
    response = auth.login(buyer.email, query_string={"next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    auth.logout()
    response = auth.login(buyer.email, query_string={"next": "/sales"})
    assert response.headers["Location"] == "/sales"


def test_session_cookie_flags(auth, client, buyer):
    response = auth.login(buyer.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
