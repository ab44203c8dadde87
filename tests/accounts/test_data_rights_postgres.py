"""Data-rights races on real PostgreSQL, with real concurrent connections."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts import deletion, exports, services
from accounts.models import DataExport, User
from accounts.roles import Role
from arbiter.errors import TransitionNotAllowed
from arbiter.extensions import db
from tests.database import audit_log_problem
from tests.factories import PASSWORD

pytestmark = pytest.mark.postgres_only


def _race(app, count, work):
    barrier = Barrier(count)

    def run(index):
        with app.app_context():
            try:
                barrier.wait()
                result = work(index)
                db.session.commit()
                return result
            except TransitionNotAllowed as refusal:
                db.session.rollback()
                return refusal
            finally:
                db.session.remove()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_the_last_two_administrators_deleting_themselves_at_once_leave_one(committed):
    app = committed
    ids = []
    for number in range(2):
        ids.append(services.create_user(f"admin{number}@example.test", f"Admin {number}",
                                        PASSWORD, roles=[Role.ADMIN]).id)
    db.session.commit()

    results = _race(app, 2, lambda i: deletion.delete_account(db.session.get(User, ids[i]),
                                                              PASSWORD))
    refused = [r for r in results if isinstance(r, deletion.DeletionRefused)]
    assert len(refused) == 1  # the other one: outside a request the message is Polish
    assert "ostatnim administratorem" in refused[0].message
    db.session.expire_all()
    assert db.session.scalar(select(func.count(User.id)).where(
        User.role_grants.any(), User.deleted_at.is_(None))) == 1
    assert audit_log_problem() is None


def test_ten_concurrent_export_requests_make_one_pending_export(committed):
    app = committed
    user_id = services.create_user("many@example.test", "Many Clicks", PASSWORD).id
    db.session.commit()

    def request(_):
        exports.request_export(db.session.get(User, user_id))
        from flask import g

        g.pop("ready_tasks", None)  # not prepared here: only the requests race

    results = _race(app, 10, request)
    assert sum(isinstance(r, exports.ExportPending) for r in results) == 9
    assert db.session.scalar(select(func.count(DataExport.id))) == 1
