"""Helpers shared by the incidents tests (the fixtures are in conftest.py)."""

from datetime import timedelta

from sqlalchemy import func, select

from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from incidents import services, tasks
from incidents.models import DeadlineExtension

IMPACT = "Buyers and sellers cannot open or answer discussions."


def resolve(incident, staff, *, hours_ago: float, body: str = "Fixed; deadlines extended."):
    services.resolve(incident, staff, ended_at=clock.now() - timedelta(hours=hours_ago),
                     body=body)
    db.session.commit()


def extend(incident, **kwargs) -> int:
    """What the background job does after resolution: every batch, committed."""
    return tasks.run_extension(incident.id, **kwargs)


def shift_back(row, hours: float, *columns: str) -> None:
    """Test set-up only: pretend these times of ``row`` were ``hours`` earlier."""
    for column in columns:
        setattr(row, column, getattr(row, column) - timedelta(hours=hours))
    db.session.commit()


def fresh(row):
    """The row as the database has it now."""
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def extension_records(incident=None) -> int:
    statement = select(func.count()).select_from(DeadlineExtension)
    if incident is not None:
        statement = statement.where(DeadlineExtension.incident_id == incident.id)
    return db.session.scalar(statement)


def audit_actions(object_type: str, object_id) -> list[str]:
    return db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == object_type,
                                        AuditEntry.object_id == str(object_id))
        .order_by(AuditEntry.id)).all()
