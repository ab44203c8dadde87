"""Incident fixtures: incidents declared some hours ago."""

from datetime import timedelta

import pytest

from arbiter import clock
from arbiter.extensions import db
from incidents import services
from tests.incidents.helpers import IMPACT


@pytest.fixture
def declare_incident(db_session, staff):
    """Declare an incident through the service that started ``hours_ago``; these tests read
    the pages in English, so the title is given in both languages."""

    def declare(*, hours_ago: float, services_affected=("discussions",),
                title: str = "Discussions are unavailable"):
        incident = services.declare(
            staff, title=title, title_en=title, impact=IMPACT,
            affected_services=list(services_affected),
            started_at=clock.now() - timedelta(hours=hours_ago))
        db.session.commit()
        return incident

    return declare
