"""The request's transaction: one per request, for pages and the API alike.

Every view runs inside :func:`in_transaction` (installed on every endpoint by
:func:`init_request_transactions`, as indico's request handler and warehouse's transaction
manager do it): the view changes rows through the services and never commits; when it has
answered, the request's changes are committed if the answer is a success (below 400) and
rolled back otherwise, or if the view raised. The after-commit work the services queued
(e-mails in the outbox, background tasks) is dispatched by the commit itself
(:mod:`arbiter.tasks`), so nothing is sent for a request whose changes were undone.

A view that shows a form again after a service refused its input rolls back first, so the
page it renders does not show the refused change.

GET and HEAD only read, and the database enforces it: their transaction is read-only
(``BEGIN READ ONLY`` on PostgreSQL, ``PRAGMA query_only`` on SQLite), so a write in one is
refused by the server, whatever the statement (a 500: it is a bug), and changes nothing.
On SQLite the other requests begin with ``BEGIN IMMEDIATE``: two that write at once queue
for the write lock instead of one failing with "database is locked".
"""

import sqlite3
from collections.abc import Callable
from functools import wraps

from flask import Flask, Response, current_app, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import Pool

from arbiter.db import SQLITE_WRITER
from arbiter.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD"})
_RECORD_ANSWER = "record_answer_before_commit"


def in_transaction(view: Callable) -> Callable:
    """``view`` as one transaction: committed below 400, rolled back otherwise."""

    @wraps(view)
    def run(*args, **kwargs) -> Response:
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            raise
        if response.status_code >= 400:
            db.session.rollback()
        for record in g.pop(_RECORD_ANSWER, ()):
            record(response)
        db.session.commit()
        return response

    return run


def outside_the_request_transaction(view: Callable) -> Callable:
    """Mark ``view`` as opening no request transaction: the health check probes the
    database on a connection of its own, with its own time limit."""
    view.outside_the_request_transaction = True
    return view


def _outside(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    return endpoint == "static" or getattr(view, "outside_the_request_transaction", False)


def record_answer(callback: Callable[[Response], None]) -> None:
    """Have ``callback(response)`` write about the answer itself in the request's final
    transaction, after a refused request's changes were rolled back (an idempotency key
    keeps the answer it replays, a refusal included)."""
    g.setdefault(_RECORD_ANSWER, []).append(callback)


def init_request_transactions(app: Flask) -> None:
    """Call once every blueprint is registered: every endpoint but static files runs in
    :func:`in_transaction`, and GET and HEAD in a read-only one.

    The read-only hook is registered last among the app's ``before_request`` functions,
    so the ones before it may still write a note about the request in a transaction of its
    own (when an API token was last used, :mod:`arbiter.api`)."""
    for endpoint, view in app.view_functions.items():
        if (endpoint != "static" and not endpoint.endswith(".static")
                and not getattr(view, "outside_the_request_transaction", False)):
            app.view_functions[endpoint] = in_transaction(view)

    @app.before_request
    def _begin_the_request_transaction() -> None:
        if _outside(request.endpoint):
            return
        session = db.session()
        bind = session.get_bind()
        if not isinstance(bind, Engine) or session.in_transaction():
            # A session on one connection (a test's transaction) or already in a
            # transaction: a read-only mode now would outlive the request.
            return
        safe = request.method in SAFE_METHODS
        try:
            if bind.dialect.name == "postgresql" and safe:
                # psycopg sends BEGIN READ ONLY; the pool resets the mode at check-in.
                session.connection(execution_options={"postgresql_readonly": True})
            elif bind.dialect.name == "sqlite" and safe:
                session.connection().exec_driver_sql("PRAGMA query_only = ON")
            elif bind.dialect.name == "sqlite":
                # Writers queue for the lock instead of failing (arbiter.db._sqlite_begin).
                session.connection(execution_options={SQLITE_WRITER: True})
        except SQLAlchemyError:
            # The database is unreachable: the view meets the same error where it knows
            # what to answer (the health check: 503).
            session.rollback()


@event.listens_for(Pool, "checkin")
def _sqlite_writable_again(dbapi_connection, connection_record) -> None:
    """A pooled SQLite connection that served a GET can write again for the next user."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA query_only = OFF")
