"""A file over 10 MB on the claim form (#22 items 10 and 11), at 1280 px and 375 px.

With scripts on, the page's own check names the file under its field as soon as it is
chosen and the form is not sent. With scripts off, the server answers the form again
(413) with everything typed kept, the error on the file field, and a note that files
must be chosen again.
"""

from datetime import timedelta

import pytest

from tests.e2e.conftest import expect
from tests.e2e.test_claim import IBAN, _open_discussion

pytestmark = pytest.mark.e2e

DESCRIPTION = "Lampa jest zielona, a na zdjęciach w ofercie była niebieska."
WIDTHS = (1280, 375)


def _fill_claim_form(actor, t, big_file) -> None:
    actor.field(t("What happened?")).select_option(
        label=t("Item significantly not as described"))
    actor.field(t("Describe what happened")).fill(DESCRIPTION)
    actor.field(t("Account for the payout (IBAN)")).fill(IBAN)
    actor.field(t("Supporting documents")).set_input_files(str(big_file))


def _fits(actor, name: str, width: int) -> None:
    scroll = actor.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name}: {scroll} px wide at {width} px"


def test_upload_limits(cast, world, clock, lang, text, tmp_path):
    t = text
    big_file = tmp_path / "film-z-lampy.pdf"
    big_file.write_bytes(b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024))
    too_large = t("%(name)s is larger than 10 MB.", name=big_file.name)
    world.user("barbara@example.test", "Barbara Kowalska", locale=lang)
    world.user("stefan@example.test", "Stefan Nowak", locale=lang)
    order_id = world.order(buyer="barbara@example.test", seller="stefan@example.test")
    world.run(_open_discussion, order_id)
    clock.shift(timedelta(hours=25))
    form_path = f"/orders/{order_id}/claim"

    # --- scripts on: stopped in the browser, nothing sent --------------------------------
    buyer = cast("buyer")
    buyer.login("barbara@example.test")
    for width in WIDTHS:
        buyer.page.set_viewport_size({"width": width, "height": 800})
        buyer.goto(form_path, f"claim-form-{width}")
        _fill_claim_form(buyer, t, big_file)
        error = buyer.page.locator("[data-upload-error]")
        expect(error).to_have_text(too_large)
        expect(error).to_be_visible()
        buyer.button(t("File the claim")).click()
        expect(buyer.page).to_have_url(buyer.server.url + form_path)
        expect(buyer.field(t("Describe what happened"))).to_have_value(DESCRIPTION)
        buyer.shot(f"stopped-in-the-browser-{width}")
        _fits(buyer, f"stopped-in-the-browser-{width}", width)

    # --- scripts off: the server answers the form again with the text kept ----------------
    offline = cast("buyer-no-script", javascript=False)
    offline.expected_statuses.add(413)
    offline.login("barbara@example.test")
    for width in WIDTHS:
        offline.page.set_viewport_size({"width": width, "height": 800})
        offline.goto(form_path, f"claim-form-{width}")
        _fill_claim_form(offline, t, big_file)
        offline.submit(offline.button(t("File the claim")), f"answered-again-{width}")
        page = offline.page
        expect(offline.field(t("Describe what happened"))).to_have_value(DESCRIPTION)
        expect(offline.field(t("Account for the payout (IBAN)"))).to_have_value(IBAN)
        expect(page.locator("#documents-errors")).to_have_text(too_large)
        expect(page.locator("[data-files-again]")).to_contain_text(big_file.name)
        _fits(offline, f"answered-again-{width}", width)
