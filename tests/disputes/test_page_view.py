"""The thread page renders a plain view of the discussion (disputes.queries.DiscussionPage),
not the ORM object. Jinja renders an attribute the view lacks as nothing, silently: so
every attribute the page's templates read must be on the view."""

import dataclasses
import re
from pathlib import Path

from disputes.queries import DiscussionPage, PageOrder, PageParty

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "disputes"
NESTED = {"order": PageOrder, "buyer": PageParty, "seller": PageParty,
          "assigned_staff": PageParty}


def _has(cls, name: str) -> bool:
    return name in {field.name for field in dataclasses.fields(cls)} or hasattr(cls, name)


def test_the_page_view_has_every_attribute_the_thread_templates_read():
    read = set()
    for template in ("thread.html", "_entries.html"):
        source = (TEMPLATES / template).read_text()
        read |= set(re.findall(r"\bd\.([a-z_]+)(?:\.([a-z_]+))?", source))
    assert ("order", "total") in read and ("assigned_staff", "name") in read  # the scan works
    missing = [f"d.{name}" for name, _ in read if not _has(DiscussionPage, name)]
    missing += [f"d.{name}.{inner}" for name, inner in read
                if inner and name in NESTED and not _has(NESTED[name], inner)]
    assert missing == []
