"""In a real browser (issue 25 items 2 and 4): a buyer registers, is refused a guessable
password, logs in before confirming the address (a banner, no orders), opens the link from
the e-mail as it was sent, confirms, and then sees the purchase the marketplace reports for
the address. In Polish and English, on a phone (375 px) and a desktop (1280 px).
"""

import email
import email.policy
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, expect
from tests.e2e.test_case_journeys import refused
from tests.e2e.test_second_factor import WIDTHS, _fits

pytestmark = pytest.mark.e2e

def _sent_to(folder: Path, address: str) -> email.message.Message:
    """The last e-mail the outbox sent to ``address`` (the file mail backend)."""
    messages = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in sorted(folder.glob("*"), key=lambda p: p.stat().st_mtime)]
    return [m for m in messages if m["To"] == address][-1]


def _plain_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_registration_on_a_phone(cast, world, text):
    _register_confirm_and_see_the_order(cast, world, text, "phone")


def test_registration_on_a_desktop(cast, world, text):
    _register_confirm_and_see_the_order(cast, world, text, "desktop")


def _register_confirm_and_see_the_order(cast, world, text, device):
    from arbiter import mail

    t = text
    address = f"ewa.{device}@example.com"  # email-validator refuses .test at registration
    world.user(f"seller-{device}@example.test", "Sklep Ikar")
    buyer = cast(f"buyer-{device}")
    buyer.page.set_viewport_size(WIDTHS[device])

    # a guessable password is refused with a reason; a few unrelated words are fine
    buyer.goto("/register", "register")
    form = buyer.page.locator("main form")
    form.get_by_label(t("Name"), exact=True).fill("Ewa Zielińska")
    form.get_by_label(t("E-mail"), exact=True).fill(address)
    for label in (t("Password"), t("Repeat password")):
        form.get_by_label(label, exact=True).fill("password1234")
    buyer.submit(form.get_by_role("button", name=t("Create account")), "weak-password")
    refused(buyer, 422)
    expect(buyer.page.locator("main")).to_contain_text(t(
        "This password is too easy to guess: it is common or follows a simple pattern "
        "(repeats, sequences, keyboard rows, a word with digits). A few unrelated words "
        "make a strong password that is easy to remember."))
    assert _fits(buyer)
    form = buyer.page.locator("main form")
    for label in (t("Password"), t("Repeat password")):
        form.get_by_label(label, exact=True).fill(PASSWORD)
    buyer.submit(form.get_by_role("button", name=t("Create account")), "check-your-inbox")
    expect(buyer.flash()).to_contain_text(t(
        "We have sent an e-mail to %(email)s. Open the link in it within 24 hours to confirm "
        "your address, then log in.", email=address))

    # logged in before confirming: a banner with "resend", no purchases anywhere
    buyer.login(address)
    banner = buyer.page.locator("[data-verification-banner]")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("button", name=t("Resend the link"))).to_be_visible()
    assert buyer.nav(t("My purchases")).count() == 0
    assert _fits(buyer)
    buyer.goto("/purchases", "purchases-hidden")
    expect(buyer.page.get_by_role("heading", level=1)).to_have_text(t("My account"))

    # the marketplace reports a purchase for the address: not attached while unconfirmed
    with pytest.raises(Exception, match="unknown user"):
        world.order(buyer=address, seller=f"seller-{device}@example.test",
                    external_id=f"ORD-{device}")

    # the e-mail, as sent, in the buyer's language
    world.run(mail.deliver_due)
    message = _sent_to(Path(world.app.config["MAIL_DIR"]), address)
    assert message["Subject"] == t("Confirm your e-mail address for Arbiter")
    path = re.search(r"https?://[^/\s]+(/verify-email/[A-Za-z0-9_-]+)",
                     _plain_text(message)).group(1)
    buyer.goto(path, "confirm-page")
    assert _fits(buyer)
    buyer.submit(buyer.button(t("Confirm my address")), "confirmed")
    expect(buyer.flash()).to_contain_text(t(
        "Thank you: your e-mail address %(email)s is confirmed.", email=address))
    expect(buyer.page.locator("[data-verification-banner]")).to_have_count(0)

    # now the marketplace's order attaches, and the buyer sees it
    world.order(buyer=address, seller=f"seller-{device}@example.test",
                external_id=f"ORD-{device}")
    buyer.open_menu()  # on a phone the sections wait behind "Menu"
    buyer.follow_link(buyer.nav(t("My purchases")), "purchases")
    expect(buyer.page.locator("main")).to_contain_text("Lampa biurkowa Ikar")
    assert _fits(buyer)
