"""Incidents in two languages (#22 item 13): staff write Polish (required) and English
(optional); the status page, the banners, the JSON status and the Atom feed speak the
reader's language, and readers of English are told when a text is only in Polish."""

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, text

from arbiter import clock
from arbiter.extensions import db
from incidents import services
from incidents.models import Incident, IncidentUpdate
from incidents.states import UpdateKind
from tests.arbiter.test_migrations import _migrate, empty_app  # noqa: F401 - a fixture
from tests.incidents.helpers import IMPACT, extend, fresh, resolve

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FALLBACK_NOTE = "Not yet written in English: the missing parts are shown in Polish."


@pytest.fixture
def bilingual(staff, db_session):
    """An open incident written in both languages, with one update in Polish only."""
    incident = services.declare(
        staff, title="Dyskusje nie działają", title_en="Discussions are down",
        impact="Nie można odpowiadać.", impact_en="Nobody can answer.",
        affected_services=["discussions"], started_at=clock.now() - timedelta(hours=2))
    services.post_update(incident, staff, kind=UpdateKind.CONFIRMED,
                         body="Wiemy o problemie.", body_en="We know about it.")
    db.session.commit()
    return incident


def _page(client, path: str, lang: str) -> str:
    return client.get(path, headers={"Accept-Language": lang}).text


def test_the_status_page_shows_each_reader_their_language(client, bilingual):
    polish = _page(client, "/status", "pl")
    assert "Dyskusje nie działają" in polish and "Wiemy o problemie." in polish
    assert "Discussions are down" not in polish and "We know about it." not in polish
    english = _page(client, "/status", "en")
    assert "Discussions are down" in english and "Nobody can answer." in english
    assert "We know about it." in english
    assert "Dyskusje nie działają" not in english and "Nie można odpowiadać." not in english
    assert FALLBACK_NOTE not in english


def test_readers_of_english_see_the_polish_text_marked_and_explained(client, bilingual, staff):
    services.post_update(bilingual, staff, kind=UpdateKind.PROGRESS, body="Naprawiamy.")
    db.session.commit()
    english = _page(client, "/status", "en")
    assert '<span lang="pl">Naprawiamy.</span>' in english
    assert FALLBACK_NOTE in english
    assert "Discussions are down" in english  # the parts written in English stay English
    polish = _page(client, "/status", "pl")
    assert "Naprawiamy." in polish and 'lang="pl">Naprawiamy.' not in polish
    assert "data-fallback-note" not in polish


def test_the_banner_on_every_page_is_in_the_readers_language(client, bilingual, staff):
    assert "Discussions are down" in _page(client, "/login", "en")
    assert "Dyskusje nie działają" in _page(client, "/login", "pl")
    polish_only = services.declare(staff, title="Płatności stoją", impact="Nie płacimy.",
                                   affected_services=["payments"],
                                   started_at=clock.now() - timedelta(hours=1))
    db.session.commit()
    english = _page(client, "/login", "en")
    assert '<span lang="pl">Płatności stoją</span> <span class="small" data-in-polish>' \
           '(in Polish)</span>' in english
    assert polish_only.title_en is None


def test_the_deadline_banner_on_a_case_names_the_incident_in_the_readers_language(
        client, auth, staff, buyer, create_discussion, db_session):
    discussion = create_discussion(buyer=buyer, age_hours=10)
    incident = services.declare(
        staff, title="Dyskusje nie działają", title_en="Discussions are down", impact=IMPACT,
        affected_services=["discussions"], started_at=clock.now() - timedelta(hours=8))
    db.session.commit()
    resolve(incident, staff, hours_ago=1)
    assert extend(incident) >= 1
    auth.login(buyer.email)
    url = f"/discussions/{discussion.id}"
    english = _page(client, url, "en")
    assert "because of the incident “Discussions are down”" in english
    client.post("/language", data={"lang": "pl"})
    polish = client.get(url).text
    assert "Dyskusje nie działają" in polish and "Discussions are down" not in polish


@pytest.mark.parametrize(("lang", "title", "body"), [
    ("pl", "Dyskusje nie działają", "Wiemy o problemie."),
    ("en", "Discussions are down", "We know about it."),
])
def test_one_atom_feed_per_language(client, bilingual, lang, title, body):
    # The address decides, whatever language the feed reader's client asks for.
    other = {"pl": "en", "en": "pl"}[lang]
    response = client.get(f"/status/feed.atom?lang={lang}", headers={"Accept-Language": other})
    feed = ElementTree.fromstring(response.data)  # noqa: S314 - our own feed
    assert feed.get(XML_LANG) == lang
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"].endswith(f"/status/feed.atom?lang={lang}")
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text.startswith(f"{title}: ")
    assert entry.find(f"{ATOM}content").text == body
    assert entry.get(XML_LANG) is None


def test_the_english_feed_marks_entries_shown_in_polish(client, bilingual, staff):
    services.post_update(bilingual, staff, kind=UpdateKind.PROGRESS, body="Naprawiamy.")
    db.session.commit()
    feed = ElementTree.fromstring(client.get("/status/feed.atom?lang=en").data)  # noqa: S314
    newest, older = feed.findall(f"{ATOM}entry")
    assert newest.find(f"{ATOM}content").text == "Naprawiamy."
    assert newest.get(XML_LANG) == "pl"
    assert older.get(XML_LANG) is None


def test_the_status_page_links_both_feeds(client):
    page = _page(client, "/status", "en")
    for lang in ("pl", "en"):
        assert f'hreflang="{lang}" title="Status' in page
        assert f'href="/status/feed.atom?lang={lang}"' in page


def test_the_json_status_follows_accept_language(client, bilingual):
    def titles(lang):
        body = client.get("/api/v1/status", headers={"Accept-Language": lang}).get_json()
        (incident,) = body["open_incidents"]
        return incident["title"], incident["impact"], incident["updates"][0]["body"]

    assert titles("pl") == ("Dyskusje nie działają", "Nie można odpowiadać.",
                            "Wiemy o problemie.")
    assert titles("en") == ("Discussions are down", "Nobody can answer.", "We know about it.")


def test_staff_write_both_languages_in_the_forms(client, auth, staff, db_session):
    auth.login(staff.email)
    form = client.get("/staff/incidents/new").text
    for label in ("Title in Polish (public)", "Title in English (public)",
                  "Impact in Polish (public)", "Impact in English (public)"):
        assert label in form
    started = clock.to_local(clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/staff/incidents/new", data={
        "title": "Dyskusje nie działają", "title_en": "Discussions are down",
        "impact": "Nie można odpowiadać.", "impact_en": "  ",
        "affected_services": ["discussions"], "started_at": started})
    assert response.status_code == 302
    incident = db.session.scalar(select(Incident))
    assert (incident.title_pl, incident.title_en) == ("Dyskusje nie działają",
                                                      "Discussions are down")
    assert (incident.impact_pl, incident.impact_en) == ("Nie można odpowiadać.", None)
    page = client.get(f"/staff/incidents/{incident.id}").text
    assert "No English impact: readers of English see the Polish one." in page
    assert client.post(f"/staff/incidents/{incident.id}/updates", data={
        "kind": "progress", "body": "Naprawiamy.", "body_en": "Fixing it."}).status_code == 302
    assert client.post(f"/staff/incidents/{incident.id}/resolve", data={
        "ended_at": clock.to_local(clock.now()).strftime("%Y-%m-%dT%H:%M"),
        "body": "Naprawione."}).status_code == 302
    updates = fresh(incident).updates
    assert [(u.body_pl, u.body_en) for u in updates] == [("Naprawiamy.", "Fixing it."),
                                                         ("Naprawione.", None)]


def test_polish_is_required_and_english_obeys_the_same_limits(client, auth, staff,
                                                              db_session):
    auth.login(staff.email)
    started = clock.to_local(clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/staff/incidents/new", data={
        "title": "", "title_en": "Discussions are down", "impact": "Nie można.",
        "affected_services": ["discussions"], "started_at": started})
    assert response.status_code == 422
    response = client.post("/staff/incidents/new", data={
        "title": "Dyskusje", "title_en": "x" * 201, "impact": "Nie można.",
        "affected_services": ["discussions"], "started_at": started})
    assert response.status_code == 422
    assert db.session.scalar(select(Incident)) is None


def test_the_database_refuses_an_empty_english_text(staff, db_session):
    from sqlalchemy.exc import IntegrityError

    incident = services.declare(staff, title="Dyskusje", impact="Nie można.",
                                affected_services=["discussions"],
                                started_at=clock.now() - timedelta(hours=1))
    db.session.flush()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(IncidentUpdate(incident_id=incident.id, kind=UpdateKind.PROGRESS,
                                      body_pl="Naprawiamy.", body_en="",
                                      posted_at=clock.now(), posted_by_id=staff.id))
        db.session.flush()


# --- the migration: what staff wrote before is the Polish text ----------------------------


def test_existing_incidents_keep_their_text_as_the_polish_one(empty_app):  # noqa: F811
    _migrate(empty_app, "0030")
    db.session.execute(text(
        "INSERT INTO users (email, name, password_hash, created_at, updated_at) "
        "VALUES ('s@example.test', 'S', 'x', :now, :now)"), {"now": clock.now()})
    db.session.execute(text(
        "INSERT INTO incidents (title, impact, affected_services, state, started_at, "
        "declared_at, declared_by_id, version, created_at, updated_at) VALUES "
        "('Awaria', 'Nic nie działa.', '[\"claims\"]', 'open', :now, :now, 1, 1, :now, :now)"),
        {"now": clock.now()})
    db.session.execute(text(
        "INSERT INTO incident_updates (incident_id, kind, body, posted_at, posted_by_id) "
        "VALUES (1, 'confirmed', 'Wiemy.', :now, 1)"), {"now": clock.now()})
    db.session.commit()
    _migrate(empty_app, "0031")
    row = db.session.execute(text(
        "SELECT title_pl, title_en, impact_pl, impact_en FROM incidents")).one()
    assert tuple(row) == ("Awaria", None, "Nic nie działa.", None)
    assert tuple(db.session.execute(text(
        "SELECT body_pl, body_en FROM incident_updates")).one()) == ("Wiemy.", None)
    db.session.commit()
    _migrate(empty_app, "0030", down=True)
    assert db.session.execute(text("SELECT title FROM incidents")).scalar() == "Awaria"
    db.session.commit()
