"""The discussion page's cached parts never show an old or someone else's version.

The thread's entries, the reply form and the navigation come from the in-process fragment
cache (arbiter/fragments.py); every test here first lets the page be cached, then changes
what it shows, and reads the page again.
"""

import pytest
from sqlalchemy import func, select

from accounts.deletion import delete_account
from arbiter.extensions import db
from arbiter.fragments import FragmentCache
from disputes import services
from disputes.models import Entry
from tests.factories import PASSWORD


@pytest.fixture
def discussion(create_discussion, buyer, seller):
    return create_discussion(buyer=buyer, seller=seller,
                             description="The lamp arrived with a cracked shade.")


def _thread(client, discussion):
    response = client.get(f"/discussions/{discussion.id}")
    assert response.status_code == 200
    return response.text


def test_a_new_message_shows_on_a_cached_thread(client, auth, discussion, buyer, seller):
    auth.login(buyer.email)
    first = _thread(client, discussion)
    assert "cracked shade" in first and "A new shade is on its way" not in first
    services.post_message(discussion, seller, "A new shade is on its way.")
    db.session.commit()
    again = _thread(client, discussion)
    assert "cracked shade" in again and "A new shade is on its way" in again
    assert again.count('id="entry-') == db.session.scalar(
        select(func.count()).select_from(Entry).where(Entry.discussion_id == discussion.id))


def test_a_posted_message_shows_after_the_redirect(client, auth, discussion, buyer):
    auth.login(buyer.email)
    _thread(client, discussion)
    _thread(client, discussion)  # second view: from the cache
    response = client.post(f"/discussions/{discussion.id}/messages",
                           data={"body": "Any news about the shade?"},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "Any news about the shade?" in response.text
    assert "Message sent." in response.text


def test_an_anonymised_party_is_not_shown_by_the_old_name(client, auth, discussion, buyer,
                                                           seller, create_user):
    services.post_message(discussion, seller, "Please send a photo.")
    services.withdraw(discussion, buyer)  # a party with open cases cannot leave
    db.session.commit()
    reader = create_user("advisor-reader@example.com", name="Ada Advisor", is_staff=True)
    auth.login(reader.email)
    old_name = seller.name
    assert f"{old_name} (seller)" in _thread(client, discussion)
    delete_account(seller, PASSWORD)
    db.session.commit()
    auth.login(reader.email)
    page = _thread(client, discussion)
    assert old_name not in page
    assert seller.name.startswith("deleted-") and f"{seller.name} (seller)" in page
    assert "Please send a photo." in page


def test_each_language_gets_its_own_thread(client, auth, discussion, buyer):
    auth.login(buyer.email)
    assert "(buyer)" in _thread(client, discussion)
    client.post("/language", data={"lang": "pl", "next": f"/discussions/{discussion.id}"})
    page = _thread(client, discussion)
    assert "(kupujący)" in page and "(buyer)" not in page


def test_a_refused_message_keeps_the_input_and_the_error(client, auth, discussion, buyer):
    auth.login(buyer.email)
    _thread(client, discussion)
    _thread(client, discussion)
    response = client.post(f"/discussions/{discussion.id}/messages",
                           data={"body": "x" * 20_001}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "is-invalid" in response.text and "x" * 20_001 in response.text
    clean = _thread(client, discussion)
    assert "is-invalid" not in clean and "x" * 20_001 not in clean


def test_staff_links_only_for_staff_whoever_came_first(client, auth, discussion, buyer, staff):
    auth.login(staff.email)
    assert "/staff/escalations" in _thread(client, discussion)
    auth.logout()
    auth.login(buyer.email)
    page = _thread(client, discussion)
    assert "/staff/escalations" not in page and "My discussions" in page


def test_the_active_section_follows_the_page(client, auth, buyer):
    auth.login(buyer.email)
    purchases = client.get("/purchases").text
    discussions = client.get("/discussions").text
    assert 'href="/purchases" aria-current="page"' in purchases
    assert 'href="/discussions" aria-current="page"' in discussions
    assert 'href="/purchases" aria-current="page"' not in discussions


def test_the_cache_keeps_only_the_newest_fragments():
    cache = FragmentCache(size=2)
    rendered = []

    def render(text):
        def go():
            rendered.append(text)
            return text
        return go

    assert cache.get_or_render("a", render("A")) == "A"
    assert cache.get_or_render("a", render("other")) == "A"
    cache.get_or_render("b", render("B"))
    cache.get_or_render("c", render("C"))
    assert len(cache) == 2
    assert cache.get_or_render("a", render("A again")) == "A again"
    assert rendered == ["A", "B", "C", "A again"]


def test_the_queue_shows_a_taken_case_and_a_question_after_it_was_cached(client, auth,
                                                                          escalated, staff):
    from disputes.states import Party

    auth.login(staff.email)
    before = client.get("/staff/escalations").text
    assert f"#{escalated.id}" in before and "nobody yet" in before
    assert "information requested" not in before
    services.take_case(escalated, staff)
    services.request_information(escalated, staff, party=Party.SELLER,
                                 question="Please send the tracking number.")
    db.session.commit()
    after = client.get("/staff/escalations").text
    assert "nobody yet" not in after and f"<td>{staff.name}</td>" in after
    assert "information requested" in after
