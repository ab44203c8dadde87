"""Deadline extension in the background, one committed batch at a time.

Like the sweeper, each batch commits on its own: a crash redoes at most one batch, and the
extension records make the redo a no-op for what was already extended. Resolving an
incident, changing its window and "extend deadlines now" queue this after their commit.
"""

from datetime import datetime

from arbiter import clock
from arbiter.extensions import db
from arbiter.tasks import celery
from incidents import extensions
from incidents.models import Incident

BATCH_SIZE = 500


def run_extension(incident_id: int, actor_id: int | None = None, *,
                  now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Extend every deadline the incident protects; return how many objects moved.

    Safe to repeat and to run twice at once: each deadline moves once per incident.
    ``now`` is fixed for the whole run, so an open incident's window ends at one instant.
    """
    now = now or clock.now()
    cursor = None
    extended = 0
    while True:
        incident = db.session.get(Incident, incident_id, populate_existing=True)
        if incident is None:
            db.session.rollback()
            return extended
        batch = extensions.extend_deadline_batch(incident, actor_id, now=now, after=cursor,
                                               batch_size=batch_size)
        db.session.commit()
        extended += batch.extended
        if batch.cursor is None:
            return extended
        cursor = batch.cursor


@celery.task(name="incidents.extend_deadlines")
def extend_deadlines_task(incident_id: int, actor_id: int | None = None) -> int:
    return run_extension(incident_id, actor_id)
