"""The signals on the pages: advisors see them beside every claim and discussion, nobody
else does; the ranking page; notes (append-only, audited, shown)."""

import re

import pytest
from sqlalchemy import delete, insert, select, update

from accounts.roles import Role
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from claims.models import Claim
from signals.models import AccountNote
from tests.factories import refused_by_the_database

PANEL = "data-signals-panel"


def _figure(page: str, name: str) -> int:
    return int(re.search(rf'data-figure="{name}">(\d+)<', page).group(1))


def _strong(page: str) -> set[str]:
    return set(re.findall(r'data-signal="([a-z_]+)" data-strong="true"', page))


def test_an_advisor_sees_the_buyers_signals_beside_the_claim(client, auth, world, advisor):
    auth.login(advisor.email)
    page = client.get(f"/claims/{world.claims[1].id}")
    assert page.status_code == 200
    assert f'{PANEL}="{world.buyer.id}"' in page.text
    assert [_figure(page.text, name) for name in (
        "orders", "claims", "discussions", "rejected_claims",
        "not_received_claims_on_delivered", "not_received_discussions_on_delivered",
        "other_buyers")] == [6, 4, 5, 3, 2, 2, 2]
    assert "66.7 % of orders" in page.text
    assert _strong(page.text) == {
        "claims_share", "discussions_share", "rejected_claims", "shared_account",
        "not_received_claims_on_delivered", "not_received_discussions_on_delivered"}
    assert "PL61 1090 1014 0000 0712 1981 2874" in page.text
    assert world.sharer.name in page.text and world.domestic.name in page.text
    assert world.stranger.name not in page.text
    assert "Signals are not sanctions" in page.text
    assert "Highlighted above 10 % of orders, from 2 on." in page.text


def test_an_advisor_sees_them_beside_the_discussion(client, auth, world, advisor):
    discussion_id = world.claims[1].discussion_id
    auth.login(advisor.email)
    page = client.get(f"/discussions/{discussion_id}")
    assert f'{PANEL}="{world.buyer.id}"' in page.text
    assert _figure(page.text, "claims") == 4


def test_a_buyer_without_signals_shows_none_highlighted(client, auth, world, advisor):
    honest_claim = db.session.scalar(select(Claim).where(Claim.buyer_id == world.honest.id))
    auth.login(advisor.email)
    page = client.get(f"/claims/{honest_claim.id}").text
    assert f'{PANEL}="{world.honest.id}"' in page
    assert _strong(page) == set()
    assert _figure(page, "claims") == 1


@pytest.mark.parametrize("viewer", ["buyer", "seller", "finance"])
def test_nobody_else_sees_them(client, auth, world, create_user, viewer):
    """Not the buyer, not the seller, not staff without the advisor role; the ranking
    and the account pages are 403 for them."""
    user = {"buyer": world.buyer, "seller": world.seller,
            "finance": create_user(roles=[Role.FINANCE])}[viewer]
    auth.login(user.email)
    claim = world.claims[1]
    assert client.get(f"/claims/{claim.id}").status_code == 200
    for path in (f"/claims/{claim.id}", f"/discussions/{claim.discussion_id}"):
        page = client.get(path)
        assert page.status_code == 200
        assert PANEL not in page.text and "data-figure=" not in page.text
    assert client.get("/staff/signals").status_code == 403
    assert client.get(f"/staff/signals/accounts/{world.buyer.id}").status_code == 403
    assert client.post(f"/staff/signals/accounts/{world.buyer.id}/notes",
                       data={"body": "hello"}).status_code == 403
    assert db.session.scalar(select(AccountNote.id)) is None


def test_the_ranking_page(client, auth, world, advisor):
    auth.login(advisor.email)
    page = client.get("/staff/signals")
    assert page.status_code == 200
    ranked = [int(i) for i in re.findall(r'data-ranked="(\d+)"', page.text)]
    assert ranked == [world.buyer.id, world.sharer.id, world.domestic.id]
    assert "Signals are not sanctions" in page.text
    assert "Any sanction is a decision taken by a person and written down with its " \
           "rationale." in page.text
    assert f'data-case="claim-{world.claims[0].id}"' in page.text
    assert "4 of 6 orders (66.7 %)" in page.text


def test_the_ranking_page_with_nobody_to_show(client, auth, advisor):
    auth.login(advisor.email)
    page = client.get("/staff/signals")
    assert page.status_code == 200 and "data-ranking-empty" in page.text


def test_a_note_is_added_audited_and_shown(client, auth, world, advisor):
    auth.login(advisor.email)
    claim_page = f"/claims/{world.claims[1].id}"
    response = client.post(f"/staff/signals/accounts/{world.buyer.id}/notes",
                           data={"body": "  Called the carrier: signed for by a neighbour. ",
                                 "next": claim_page})
    assert response.status_code == 302 and response.headers["Location"] == claim_page
    note = db.session.scalar(select(AccountNote))
    assert (note.user_id, note.author_id, note.body) == (
        world.buyer.id, advisor.id, "Called the carrier: signed for by a neighbour.")
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "account.note_added"))
    assert (entry.actor_id, entry.object_type, entry.object_id) == (
        advisor.id, "users", str(world.buyer.id))
    assert entry.after["note_id"] == note.id and len(entry.after["body_sha256"]) == 64
    for path in (claim_page, "/staff/signals", f"/staff/signals/accounts/{world.buyer.id}"):
        page = client.get(path).text
        assert "signed for by a neighbour" in page, path
        assert f'data-note="{note.id}"' in page or f'data-latest-note="{note.id}"' in page


def test_a_note_goes_back_only_to_this_site(client, auth, world, advisor):
    auth.login(advisor.email)
    response = client.post(f"/staff/signals/accounts/{world.buyer.id}/notes",
                           data={"body": "Checked.", "next": "https://evil.example/"})
    assert response.headers["Location"] == f"/staff/signals/accounts/{world.buyer.id}"


def test_an_empty_note_is_refused(client, auth, world, advisor):
    auth.login(advisor.email)
    response = client.post(f"/staff/signals/accounts/{world.buyer.id}/notes",
                           data={"body": "   "})
    assert response.status_code == 422
    assert db.session.scalar(select(AccountNote.id)) is None


def test_nobody_reads_or_notes_their_own_account(client, auth, world, create_user):
    """An advisor who is also a buyer: their own signals are another advisor's to read."""
    own = create_user(roles=[Role.ADVISOR])
    auth.login(own.email)
    assert client.get(f"/staff/signals/accounts/{own.id}").status_code == 403
    assert client.post(f"/staff/signals/accounts/{own.id}/notes",
                       data={"body": "All fine."}).status_code == 403
    assert client.get("/staff/signals/accounts/999999999").status_code == 404


def test_notes_are_append_only_in_the_database(world, advisor):
    from signals import services

    note = services.add_note(world.buyer.id, advisor, "First look.")
    db.session.commit()
    for statement in (update(AccountNote).where(AccountNote.id == note.id).values(body="x"),
                      delete(AccountNote).where(AccountNote.id == note.id)):
        with pytest.raises(Exception, match="append-only"), db.session.begin_nested():
            db.session.execute(statement)
    refused_by_the_database(insert(AccountNote).values(
        user_id=advisor.id, author_id=advisor.id, body="About me.", created_at=clock.now()),
        "not_about_the_author")


def test_the_panel_in_polish(client, auth, world, advisor):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"
    auth.login(advisor.email)
    page = client.get(f"/claims/{world.claims[1].id}").text
    assert "Sygnały nie są sankcjami" in page
    assert "66,7 %" in page


def test_the_ranking_lists_a_few_cases_and_links_to_the_rest(client, auth, world, advisor):
    """The world's buyer has 9 cases in the window: 8 on the ranking, the rest on the
    account page."""
    auth.login(advisor.email)
    page = client.get("/staff/signals").text
    row = page[page.index(f'data-ranked="{world.buyer.id}"'):]
    row = row[:row.index("</tr>")]
    assert row.count("data-case=") == 8
    assert "and 1 more" in row
    account = client.get(f"/staff/signals/accounts/{world.buyer.id}").text
    assert account.count("data-case=") == 9
