"""The public status page, its JSON and its Atom feed: no login, Polish and English, and
nothing personal."""

import json
from xml.etree import ElementTree

import pytest

from arbiter.extensions import db
from incidents import services
from incidents.states import UpdateKind
from tests.incidents.helpers import resolve

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def timeline(declare_incident, staff):
    """A resolved incident with four updates and an open one with one update."""
    past = declare_incident(hours_ago=50, title="Claims form broken",
                            services_affected=("claims",))
    services.post_update(past, staff, kind=UpdateKind.CONFIRMED, body="We know about it.")
    services.post_update(past, staff, kind=UpdateKind.IMPACT, body="Claims cannot be filed.")
    services.post_update(past, staff, kind=UpdateKind.PROGRESS, body="A fix is deployed.")
    db.session.commit()
    resolve(past, staff, hours_ago=40, body="Fixed; filing windows extended by 24 h.")
    now_open = declare_incident(hours_ago=1, title="Discussions are slow")
    services.post_update(now_open, staff, kind=UpdateKind.CONFIRMED, body="Looking into it.")
    db.session.commit()
    return past, now_open


def _parse(data: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(data)  # noqa: S314 - our own feed, which the test checks


def _feed(client) -> ElementTree.Element:
    return _parse(client.get("/status/feed.atom").data)


def _no_personal_data(text: str, staff) -> None:
    for secret in (staff.name, staff.email, "Sylwia", "staff@"):
        assert secret not in text


def test_all_working_without_incidents(client):
    response = client.get("/status")
    assert response.status_code == 200
    assert 'data-status="operational"' in response.text
    assert "All systems are working." in response.text
    body = client.get("/api/v1/status").get_json()
    assert body["status"] == "operational" and body["open_incidents"] == []


def test_the_status_page_shows_open_and_recent_incidents_without_login(client, timeline,
                                                                       staff):
    response = client.get("/status")
    assert response.status_code == 200
    page = response.text
    assert 'data-status="incident"' in page
    assert "Discussions are slow" in page and "Looking into it." in page
    assert "Claims form broken" in page
    for body in ("We know about it.", "Claims cannot be filed.", "A fix is deployed.",
                 "Fixed; filing windows extended by 24 h."):
        assert body in page
    assert page.index("Discussions are slow") < page.index("Claims form broken")
    _no_personal_data(page, staff)


def test_incidents_older_than_90_days_leave_the_status_page(client, declare_incident, staff):
    old = declare_incident(hours_ago=24 * 92, title="Ancient outage")
    resolve(old, staff, hours_ago=24 * 91)
    assert "Ancient outage" not in client.get("/status").text
    assert "Ancient outage" not in client.get("/api/v1/status").text


@pytest.mark.parametrize(("lang", "working", "label"), [
    ("pl", "Wszystkie systemy działają.", "Potwierdzenie"),
    ("en", "All systems are working.", "Confirmed"),
])
def test_the_status_page_speaks_polish_and_english(client, declare_incident, staff, lang,
                                                   working, label):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    assert working in client.get("/status").text
    incident = declare_incident(hours_ago=1)
    services.post_update(incident, staff, kind=UpdateKind.CONFIRMED, body="On it.")
    db.session.commit()
    page = client.get("/status").text
    assert working not in page and label in page
    assert f'<html lang="{lang}">' in page
    feed = _feed(client)
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == lang
    assert label in feed.find(f"{ATOM}entry/{ATOM}title").text


def test_the_json_status_lists_public_fields_only(client, timeline, staff):
    response = client.get("/api/v1/status")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    body = response.get_json()
    assert body["status"] == "incident"
    assert body["summary"] == "We are dealing with a platform incident."
    (current,) = body["open_incidents"]
    assert current["title"] == "Discussions are slow" and current["state"] == "open"
    assert current["ended_at"] is None
    assert [u["kind"] for u in current["updates"]] == ["confirmed"]
    (past,) = body["recent_incidents"]
    assert past["affected_services"] == ["claims"] and past["state"] == "resolved"
    assert [u["kind"] for u in past["updates"]] == ["confirmed", "impact", "progress",
                                                    "resolved"]
    assert set(past) == {"id", "title", "impact", "affected_services", "state", "started_at",
                         "ended_at", "updates"}
    assert set(past["updates"][0]) == {"id", "kind", "body", "posted_at"}
    _no_personal_data(json.dumps(body), staff)
    polish = client.get("/api/v1/status", headers={"Accept-Language": "pl"}).get_json()
    assert polish["summary"] != body["summary"]


def test_the_atom_feed_is_valid_with_one_entry_per_update(client, timeline, staff):
    response = client.get("/status/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    _no_personal_data(response.text, staff)
    feed = _parse(response.data)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert feed.find(ATOM + required) is not None, required
    assert feed.find(f"{ATOM}author/{ATOM}name").text == "Arbiter"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"].endswith("/status/feed.atom?lang=en")
    assert links["alternate"].endswith("/status")
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 5  # 4 updates of the resolved incident, 1 of the open one
    ids = [entry.find(f"{ATOM}id").text for entry in entries]
    assert len(set(ids)) == len(ids)
    for entry in entries:
        for required in ("id", "title", "updated", "content"):
            assert entry.find(ATOM + required) is not None, required
    updated = [entry.find(f"{ATOM}updated").text for entry in entries]
    assert updated == sorted(updated, reverse=True)
    assert entries[0].find(f"{ATOM}content").text == "Looking into it."
    assert feed.find(f"{ATOM}updated").text == updated[0]


def test_update_bodies_cannot_break_the_feed(client, declare_incident, staff):
    incident = declare_incident(hours_ago=1, title="<b>Tags</b> & ampersands")
    services.post_update(incident, staff, kind=UpdateKind.PROGRESS,
                         body="]]></content><entry>injected</entry> & <script>")
    db.session.commit()
    feed = _feed(client)
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}content").text == "]]></content><entry>injected</entry> & <script>"
    assert entry.find(f"{ATOM}title").text.startswith("<b>Tags</b> & ampersands")
    page = client.get("/status").text
    assert "<script>" not in page and "&lt;b&gt;Tags" in page


def test_an_empty_feed_is_still_valid(client):
    feed = _feed(client)
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.find(f"{ATOM}updated").text


def test_the_feed_keeps_its_namespace_after_a_pdf_was_rendered(client, app, timeline,
                                                               monkeypatch):
    from weasyprint.pdf import metadata

    from arbiter.pdf import minimal_pdf

    # WeasyPrint registers its XMP prefixes globally (the empty one included) when its
    # metadata module loads; whenever that happens, the feed must not change.
    monkeypatch.setattr(ElementTree, "_namespace_map", dict(ElementTree._namespace_map))
    with app.app_context():
        assert minimal_pdf("A decision").startswith(b"%PDF")
    for prefix, uri in metadata.NS.items():
        ElementTree.register_namespace(prefix, uri)
    data = client.get("/status/feed.atom").data
    assert b"ns0" not in data and b"<feed xmlns=\"http://www.w3.org/2005/Atom\"" in data
    assert len(_parse(data).findall(f"{ATOM}entry")) == 5


def test_control_characters_in_an_update_do_not_break_the_feed(client, declare_incident,
                                                               staff):
    incident = declare_incident(hours_ago=1, title="Slow\x08 pages")
    services.post_update(incident, staff, kind=UpdateKind.PROGRESS,
                         body="Pasted from a terminal:\x1b[31m red\x0b\x0c done\ufffe")
    db.session.commit()
    (entry,) = _feed(client).findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}content").text == "Pasted from a terminal:[31m red done"
    assert entry.find(f"{ATOM}title").text.startswith("Slow pages")


def test_feed_links_use_the_configured_address_not_the_host_header(client, app, timeline):
    base = app.config["BASE_URL"]
    feed = _parse(client.get("/status/feed.atom", headers={"Host": "evil.example"}).data)
    hrefs = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    ids = [element.text for element in feed.iter(f"{ATOM}id")]
    assert hrefs and all(href.startswith(f"{base}/status") for href in hrefs + ids)
    assert "evil.example" not in json.dumps(client.get(
        "/api/v1/status", headers={"Host": "evil.example"}).get_json())
