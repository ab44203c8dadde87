"""The status page as an Atom feed (RFC 4287): one entry per incident update.

Built with ElementTree, which escapes every text, so an update body can never break the
XML; characters XML 1.0 cannot carry at all (control characters, U+FFFE, U+FFFF) are left
out. The Atom namespace is declared as a literal ``xmlns`` attribute on the root and every
name is written as it is (no ``{namespace}`` names), so no global state of ElementTree
takes part: WeasyPrint registers its own prefixes, the empty one included, with
``register_namespace`` when it loads its PDF metadata, after which a globally registered
Atom default turned into ``ns0:`` and feed readers saw no Atom at all. Nothing
personal goes in: the feed's author is the platform, never a staff member.

One feed per language (``/status/feed.atom?lang=pl`` and ``?lang=en``; without ``lang``,
the reader's language as on the pages): feed readers rarely send Accept-Language, so the
address itself says the language. Texts staff have not written in English yet appear in
Polish, marked with ``xml:lang="pl"`` on the entry.
"""

import re
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from flask_babel import gettext as _

from incidents.queries import StatusPage
from incidents.states import UPDATE_KIND_LABELS

ATOM = "http://www.w3.org/2005/Atom"
# What XML 1.0 cannot represent, escaped or not (its production "Char").
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", str(text))


def _add(parent: Element, tag: str, text: str | None = None, **attributes) -> Element:
    element = SubElement(parent, tag,
                         {name: xml_text(value) for name, value in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def atom(page: StatusPage, *, status_url: str, feed_url: str, locale: str,
         now: datetime) -> bytes:
    updates = sorted(((incident, update) for incident in page.open + page.recent
                      for update in incident.updates),
                     key=lambda pair: (pair[1].posted_at, pair[1].id), reverse=True)
    feed = Element("feed", {"xmlns": ATOM, "xml:lang": locale})
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
            entry.set("xml:lang", "pl")
        _add(entry, "id", f"{status_url}#update-{update.id}")
        _add(entry, "title", f"{title}: {UPDATE_KIND_LABELS[update.kind]}")
        _add(entry, "published", update.posted_at.isoformat())
        _add(entry, "updated", update.posted_at.isoformat())
        _add(entry, "link", rel="alternate", type="text/html",
             href=f"{status_url}#incident-{incident.id}")
        _add(entry, "category", term=update.kind.value, label=str(UPDATE_KIND_LABELS[update.kind]))
        _add(entry, "content", body.text, type="text")
    return tostring(feed, encoding="utf-8", xml_declaration=True)
