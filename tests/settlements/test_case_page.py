"""The case file page: the buyer, the seller and staff each see their view, in time order,
with what is still owed; anyone else gets 404."""

import re

import pytest

from arbiter.money import format_money
from claims.banking import grouped
from tests.claims.helpers import IBAN
from tests.settlements.conftest import POLICE_REFERENCE

# As it happened: the claim's decision creates its payout in the same instant, before the
# discussion ends and the payout enters the ledger; finance's confirmation pays the claim,
# confirms the payout row, and records the recovery from the seller.
EXPECTED_ORDER = [
    "discussion.opened", "offer.made", "offer.accepted", "settlement.recorded",
    "settlement.failed", "claim.filed", "claim.decided", "payout.created",
    "discussion.settled_by_platform", "settlement.recorded", "payout.paid", "claim.paid",
    "settlement.confirmed", "settlement.recorded",
]


def _events(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-event="([^"]+)" data-object="[^"]+" data-at="([^"]+)"', html)


def _page(client, auth, user, story, language="en"):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    auth.login(user.email)
    return client.get(f"/orders/{story.order.id}/case")


@pytest.mark.parametrize("language", ["en", "pl"])
@pytest.mark.parametrize("who", ["buyer", "seller", "staff"])
def test_each_party_and_staff_see_the_case_in_time_order(client, auth, story, request,
                                                         who, language):
    page = _page(client, auth, request.getfixturevalue(who), story, language)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-viewer="{who}"' in html
    events = _events(html)
    assert [kind for kind, _ in events] == EXPECTED_ORDER
    times = [at for _, at in events]
    assert times == sorted(times)
    # The order's money: total, committed (the paid claim) and what remains.
    assert format_money(101_000, "PLN", language) in html
    assert re.search(r'data-case-committed>\s*' + re.escape(format_money(50_000, "PLN", language)),
                     html)
    assert re.search(r'data-case-remaining>\s*' + re.escape(format_money(51_000, "PLN", language)),
                     html)
    # Still owed: the recovery, by the seller to the platform, with its due date.
    assert f'data-owed="{story.recovery.id}"' in html
    assert html.count("data-owed=") == 1
    assert f'id="settlement-{story.recovery.id}"' in html
    heading = "Case file of order" if language == "en" else "Akta sprawy zamówienia"
    assert heading in html


def test_only_the_buyer_and_staff_see_the_payout_account_and_police_reference(
        client, auth, story, buyer, seller, staff):
    for user, sees in ((buyer, True), (staff, True), (seller, False)):
        html = _page(client, auth, user, story).get_data(as_text=True)
        for secret in (grouped(IBAN), POLICE_REFERENCE):  # the page groups the account
            assert (secret in html) is sees, (user.email, secret)
        auth.logout()


def test_the_seller_case_page_never_holds_the_iban(client, auth, story, seller):
    html = _page(client, auth, seller, story).get_data(as_text=True)
    assert IBAN not in html and grouped(IBAN) not in html
    assert IBAN[-8:] not in html.replace(" ", "")


def test_anyone_else_gets_404(client, auth, story, create_user):
    assert client.get(f"/orders/{story.order.id}/case").status_code == 302  # log in first
    stranger = create_user()
    assert _page(client, auth, stranger, story).status_code == 404
    assert client.get("/orders/999999/case").status_code == 404
    assert client.get(f"/settlements/{story.recovery.id}").status_code == 404


def test_a_settlement_leads_to_its_place_in_the_case(client, auth, story, seller):
    auth.login(seller.email)
    response = client.get(f"/settlements/{story.recovery.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"/orders/{story.order.id}/case#settlement-{story.recovery.id}")
    assert client.get("/settlements/999999").status_code == 404
    # A seller's promise leads to its discussion, where it is confirmed or reported.
    promise = client.get(f"/settlements/{story.promise.id}")
    assert promise.headers["Location"] == (
        f"/discussions/{story.discussion.id}#settlement-{story.promise.id}-heading")


def test_settlement_notifications_link_to_the_case(client, auth, story, buyer):
    auth.login(buyer.email)
    html = client.get("/notifications").get_data(as_text=True)
    assert f'href="/settlements/{story.promise.id}"' in html


def test_the_order_thread_and_claim_pages_link_to_the_case(client, auth, story, buyer, staff):
    auth.login(buyer.email)
    case_url = f'href="/orders/{story.order.id}/case"'
    for url in (f"/orders/{story.order.id}", f"/discussions/{story.discussion.id}",
                f"/claims/{story.claim.id}"):
        html = client.get(url).get_data(as_text=True)
        assert case_url in html, url
        assert "data-case-summary" not in html, url  # the summary is for staff
    auth.logout()
    auth.login(staff.email)
    for url in (f"/discussions/{story.discussion.id}", f"/claims/{story.claim.id}"):
        html = client.get(url).get_data(as_text=True)
        assert f'data-case-summary="{story.order.id}"' in html, url
        assert f'data-owed="{story.recovery.id}"' in html, url


def test_a_case_with_nothing_owed_says_so(client, auth, create_order, buyer):
    order = create_order(buyer=buyer)
    auth.login(buyer.email)
    html = client.get(f"/orders/{order.id}/case").get_data(as_text=True)
    assert 'data-case-owed="none"' in html
    assert _events(html) == []
