"""The status page as an Atom feed (RFC 4287): one entry per incident update.

Built with ElementTree, which escapes every text, so an update body can never break the
XML. Nothing personal goes in: the feed's author is the platform, never a staff member.

One feed per language (``/status/feed.atom?lang=pl`` and ``?lang=en``; without ``lang``,
the reader's language as on the pages): feed readers rarely send Accept-Language, so the
address itself says the language. Texts staff have not written in English yet appear in
Polish, marked with ``xml:lang="pl"`` on the entry.
"""

from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from flask_babel import gettext as _

from incidents.queries import StatusPage
from incidents.states import UPDATE_KIND_LABELS

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
register_namespace("", ATOM)


def _add(parent: Element, tag: str, text: str | None = None, **attributes) -> Element:
    element = SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def atom(page: StatusPage, *, status_url: str, feed_url: str, locale: str,
         now: datetime) -> bytes:
    updates = sorted(((incident, update) for incident in page.open + page.recent
                      for update in incident.updates),
                     key=lambda pair: (pair[1].posted_at, pair[1].id), reverse=True)
    feed = Element(f"{{{ATOM}}}feed", {XML_LANG: locale})
    _add(feed, "id", status_url)
    _add(feed, "title", _("Arbiter platform status"))
    _add(feed, "subtitle", _("Incidents of the platform and their updates."))
    # With no updates at all the feed is as fresh as this answer.
    _add(feed, "updated", (updates[0][1].posted_at if updates else now).isoformat())
    _add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _add(feed, "link", rel="alternate", type="text/html", href=status_url)
    author = _add(feed, "author")
    _add(author, "name", _("Arbiter"))
    for incident, update in updates:
        title, body = incident.text_in("title", locale), update.text_in("body", locale)
        entry = _add(feed, "entry")
        if title.fallback or body.fallback:
            entry.set(XML_LANG, "pl")
        _add(entry, "id", f"{status_url}#update-{update.id}")
        _add(entry, "title", f"{title}: {UPDATE_KIND_LABELS[update.kind]}")
        _add(entry, "published", update.posted_at.isoformat())
        _add(entry, "updated", update.posted_at.isoformat())
        _add(entry, "link", rel="alternate", type="text/html",
             href=f"{status_url}#incident-{incident.id}")
        _add(entry, "category", term=update.kind.value, label=str(UPDATE_KIND_LABELS[update.kind]))
        _add(entry, "content", body.text, type="text")
    return tostring(feed, encoding="utf-8", xml_declaration=True)
