"""In a real browser: a staff member's first login sets up their authenticator app.

On a phone (375 px wide) and on a desktop (1280 px): the password, then the set-up page
with the QR code drawn by the server and the key for typing by hand; the key is read from
the page, as an app would scan it, and a code from it is typed; the ten recovery codes are
shown once; the staff pages open. Then a second login asks for the next code from the app.
"""

import re

import pyotp
import pytest

from tests.e2e.conftest import PASSWORD, expect

pytestmark = pytest.mark.e2e

WIDTHS = {"phone": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 900}}


def _fits(actor) -> bool:
    """Nothing sticks out sideways (no horizontal scrolling)."""
    return actor.page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth")


def test_second_factor_on_a_phone(cast, world, text):
    _set_up_and_log_in_again(cast, world, text, "phone")


def test_second_factor_on_a_desktop(cast, world, text):
    _set_up_and_log_in_again(cast, world, text, "desktop")


def _set_up_and_log_in_again(cast, world, text, device):
    t = text
    email = f"{device}@example.test"
    world.user(email, "Sylwia Wiśniewska", staff=True, enrolled=False)
    staff = cast(f"staff-{device}")
    staff.page.set_viewport_size(WIDTHS[device])

    # the password: the staff pages are not open yet, the set-up is
    staff.goto("/login", "login")
    form = staff.page.locator("main form")
    form.get_by_label(t("E-mail")).fill(email)
    form.get_by_label(t("Password")).fill(PASSWORD)
    staff.submit(form.get_by_role("button", name=t("Log in")), "set-up")
    expect(staff.page.get_by_role("heading", level=1)).to_have_text(
        t("Set up your authenticator app"))
    expect(staff.page.locator("main svg.qr-code")).to_be_visible()
    assert staff.page.get_by_role("navigation", name=t("Main navigation")).count() == 0
    assert _fits(staff)

    # the app scans the key (read here from the page) and shows a code
    secret = staff.page.locator("[data-secret]").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    staff.field(t("Code from the app")).fill(pyotp.TOTP(secret).now())
    staff.submit(staff.button(t("Turn on")), "recovery-codes")
    codes = staff.page.locator("[data-recovery-codes] li").all_inner_texts()
    assert len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code) for code in codes)
    assert _fits(staff)
    staff.follow_link(staff.link(t("I have kept my codes, continue")), "home")

    # signed in: the staff pages open, the account page says the second factor is on
    staff.goto("/staff/escalations", "queue")
    expect(staff.page.locator("main h1")).to_be_visible()
    staff.goto("/account", "account")
    expect(staff.page.locator("[data-second-factor=on]")).to_be_visible()
    assert _fits(staff)

    # the next login asks for the app's next code (on a phone "Log out" is in the menu)
    staff.open_menu()
    staff.submit(staff.page.get_by_role("button", name=t("Log out")), "logged-out")
    staff.login(email)
    staff.goto("/staff/escalations", "queue-again")
    assert "/staff/escalations" in staff.page.url
