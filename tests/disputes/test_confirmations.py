"""The buyer's irreversible actions on a discussion ask first (issue 22 item 9): the first
post of "Close as solved", "Withdraw" and "Accept" changes nothing and answers a page stating
the consequence, in the reader's language; only the confirmed post acts."""

import pytest
from sqlalchemy import func, select

from arbiter.extensions import db
from disputes import services
from disputes.models import Discussion
from disputes.states import DiscussionState, OfferKind
from settlements.models import Settlement

CONSEQUENCE = {
    ("solve", "en"): "The discussion ends as resolved and the seller is told.",
    ("solve", "pl"): "Dyskusja zakończy się jako rozwiązana, a sprzedający dostanie o tym "
                     "wiadomość.",
    ("withdraw", "en"): "The discussion ends as withdrawn and the seller is told.",
    ("withdraw", "pl"): "Dyskusja zakończy się jako wycofana, a sprzedający dostanie o tym "
                        "wiadomość.",
}
UNDONE = {"en": "This cannot be undone.", "pl": "Tego nie można cofnąć."}
FINAL = {"solve": DiscussionState.RESOLVED, "withdraw": DiscussionState.CLOSED}


def _text(response) -> str:
    return response.text.replace("\xa0", " ").replace("\u202f", " ")


def _state(discussion) -> DiscussionState:
    db.session.expire_all()
    return db.session.get(Discussion, discussion.id).state


@pytest.mark.parametrize("lang", ["en", "pl"])
@pytest.mark.parametrize("action", ["solve", "withdraw"])
def test_closing_or_withdrawing_asks_first(client, auth, buyer, seller, create_discussion,
                                          action, lang):
    discussion = create_discussion(buyer=buyer, seller=seller)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    auth.login(buyer.email)
    path = f"/discussions/{discussion.id}/{action}"

    first = client.post(path)
    assert first.status_code == 200
    assert CONSEQUENCE[action, lang] in _text(first)
    assert UNDONE[lang] in _text(first)
    assert 'name="confirmed" value="1"' in first.text and f'action="{path}"' in first.text
    assert _state(discussion) is DiscussionState.AWAITING_SELLER  # nothing changed

    assert client.post(path, data={"confirmed": "1"}).status_code == 302
    assert _state(discussion) is FINAL[action]


def test_the_thread_holds_the_same_consequence_for_the_dialog(client, auth, buyer, seller,
                                                             create_discussion):
    discussion = create_discussion(buyer=buyer, seller=seller)
    auth.login(buyer.email)
    page = _text(client.get(f"/discussions/{discussion.id}"))
    for action in ("solve", "withdraw"):
        assert f'data-confirm="confirm-{action}"' in page
        assert f'<dialog class="confirm-dialog border rounded-3 shadow p-0" id="confirm-{action}"' \
            in page
        assert CONSEQUENCE[action, "en"] in page


def test_nobody_but_the_buyer_reaches_the_confirmation(client, auth, buyer, seller,
                                                      create_discussion, create_user):
    discussion = create_discussion(buyer=buyer, seller=seller)
    auth.login(seller.email)
    assert client.post(f"/discussions/{discussion.id}/withdraw").status_code == 404
    auth.logout()
    auth.login(buyer.email)
    client.post(f"/discussions/{discussion.id}/withdraw", data={"confirmed": "1"})
    # An ended discussion cannot be closed again: refused, not asked about.
    assert client.post(f"/discussions/{discussion.id}/solve").status_code == 409


@pytest.mark.parametrize("lang, promise", [
    ("en", "The seller must refund PLN 40.00 by"),
    ("pl", "Sprzedający musi zwrócić 40,00 zł do"),
])
def test_accepting_an_offer_asks_first(client, auth, buyer, seller, create_discussion, lang,
                                       promise):
    discussion = create_discussion(buyer=buyer, seller=seller)
    offer = services.make_offer(discussion, seller, kind=OfferKind.PARTIAL_REFUND,
                                amount=4_000)
    db.session.commit()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    auth.login(buyer.email)
    path = f"/discussions/{discussion.id}/offers/{offer.id}/accept"

    first = client.post(path)  # e.g. an old page's button, without the confirmation
    assert first.status_code == 200
    assert promise in _text(first)
    assert 'name="confirmed" value="1"' in first.text
    assert _state(discussion) is DiscussionState.IN_PROGRESS  # the seller's offer answered
    assert db.session.scalar(select(func.count()).select_from(Settlement)) == 0

    assert client.post(path, data={"confirmed": "1"}).status_code == 302
    assert _state(discussion) is DiscussionState.AWAITING_FULFILMENT
    assert db.session.scalar(select(func.count()).select_from(Settlement)) == 1
