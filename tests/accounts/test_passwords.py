"""Passwords follow NIST SP 800-63B (issue 25 item 4): at least 12 characters, no common or
context-specific ones (zxcvbn's estimate), no composition rules; wherever a password is
set: registration, password change, staff invitation acceptance, `flask users create`."""

import pytest
from sqlalchemy import select

from accounts.models import User
from accounts.passwords import password_problem
from arbiter import seed
from arbiter.extensions import db
from tests.factories import PASSWORD

EMAIL = "barbara.kowalska@example.com"
NAME = "Barbara Kowalska"
# The examples, and the same patterns at 12 characters and more, which only the
# strength estimate refuses.
WEAK = ["aaaaaaaaaa", "1234567890", "password12", EMAIL,
        "aaaaaaaaaaaa", "123456789012", "password1234", "qwertyuiop123", "Password2026!"]
CONTEXT = [EMAIL, "barbarakowalska", "Kowalska2026", "Barbara Kowalska"]
STRONG = ["violet submarine orchestra", "Gżegżółka tańczy po łące", PASSWORD,
          seed.DEMO_PASSWORD, "x7#Qm2!vLp9z"]


def _register(client, password, email=EMAIL, name=NAME):
    return client.post("/register", data={"name": name, "email": email,
                                          "password": password, "confirm": password})


@pytest.mark.parametrize("password", WEAK + CONTEXT)
def test_registration_refuses_weak_and_context_specific_passwords(client, password):
    response = _register(client, password)
    assert response.status_code == 422
    assert db.session.scalar(select(User).where(User.email == EMAIL)) is None


@pytest.mark.parametrize("password", STRONG)
def test_registration_accepts_strong_passwords_without_composition_rules(client, password):
    assert _register(client, password).status_code == 302


@pytest.mark.parametrize(("lang", "short", "guessable", "personal"), [
    ("en", "Between 12 and 128 characters", "too easy to guess", "e-mail address or name"),
    ("pl", "Od 12 do 128 znaków", "zbyt łatwe do odgadnięcia", "adresu e-mail ani imienia"),
])
def test_the_messages_say_what_is_wrong_in_english_and_polish(client, lang, short, guessable,
                                                               personal):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    assert short in _register(client, "password12").text
    assert guessable in _register(client, "password1234").text
    assert personal in _register(client, EMAIL).text


def test_the_rule_itself(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        for password in WEAK:
            assert password_problem(password, context=(EMAIL, NAME)), password
        for password in CONTEXT:
            assert "e-mail address or name" in password_problem(password,
                                                                context=(EMAIL, NAME))
        for password in STRONG:
            assert password_problem(password, context=(EMAIL, NAME)) is None, password
        assert password_problem("x" * 129) is not None  # at most 128


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "1234567890", "password12",
                                      "password1234", "barbara.kowalska"])
def test_password_change_refuses_weak_passwords(auth, client, create_user, password):
    user = create_user(EMAIL, name=NAME)
    auth.login(user.email)
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": password, "confirm": password})
    assert response.status_code == 422
    client.post("/logout")
    assert auth.login(user.email, PASSWORD).status_code == 302  # the old one still works


@pytest.mark.parametrize("password", ["password12", "password1234", EMAIL])
def test_users_create_refuses_weak_passwords(app, db_session, password):
    result = app.test_cli_runner().invoke(
        args=["users", "create", EMAIL, "--password-stdin"], input=password + "\n")
    assert result.exit_code != 0
    assert db.session.scalar(select(User).where(User.email == EMAIL)) is None


def test_a_staff_invitation_refuses_weak_passwords(create_user):
    from accounts import links, staff
    from accounts.roles import Role
    from arbiter.errors import ValidationFailed
    from arbiter.notifications import OutboxEmail

    admin = create_user("boss@example.com", roles=[Role.ADMIN])
    staff.invite(admin, EMAIL, ["advisor"])
    nonce = db.session.scalar(select(OutboxEmail.context).where(
        OutboxEmail.template == "staff_invitation"))["invitation_nonce"]
    for password in ("1234567890ab", "barbara.kowalska", EMAIL):
        with pytest.raises(ValidationFailed):
            staff.accept_as_new(links.token(staff.PURPOSE, nonce), NAME, password)
    assert staff.accept_as_new(links.token(staff.PURPOSE, nonce), NAME,
                               "violet submarine orchestra").email == EMAIL
