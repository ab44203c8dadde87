"""Named errors the services raise, and how views and the API turn them into responses.

Bad input -> 422 (API) or a form error (HTML); a forbidden transition -> 409; staff acting
on their own case -> 403; someone else's object -> 404; too large -> 413; too many -> 429.
JSON errors always have the shape ``{"error": {"code", "message", "fields"}}``.
"""

import sqlite3

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_babel import gettext
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from arbiter import schema_messages


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class InvalidFields(ValidationFailed):
    """Several fields refused at once, each problem kept, so that a form shows every error
    next to its field in one round (and the API names every field). One problem alone is
    answered exactly as it would be by itself; a file that is too large makes it a 413."""

    def __init__(self, problems: list[ValidationFailed]):
        first = problems[0]
        fields: dict = {}
        for problem in problems:
            for name, codes in problem.fields.items():
                fields.setdefault(name, []).extend(codes)
        message = first.message if len(problems) == 1 else " ".join(
            problem.message for problem in problems)
        super().__init__(message, code=first.code, fields=fields)
        self.problems = problems
        self.status = max(problem.status for problem in problems)


class Checks:
    """Runs checks one after the other and keeps every refusal instead of stopping at the
    first: ``checks.run(check, ...)`` returns the check's result, or None if it refused;
    ``checks.done()`` raises them all together as InvalidFields."""

    def __init__(self, already_refused=()):
        self.problems: list[ValidationFailed] = []
        self.already_refused = set(already_refused)  # fields a form's own checks refused

    def run(self, check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationFailed as error:
            self.problems.extend(getattr(error, "problems", [error]))
            return None

    def refused(self, field: str) -> bool:
        return field in self.already_refused or any(
            field in problem.fields for problem in self.problems)

    def done(self) -> None:
        if self.problems:
            raise InvalidFields(self.problems)


class TransitionNotAllowed(DomainError):
    """The state machine forbids this step now (HTTP 409)."""

    status = 409
    code = "transition_not_allowed"


class AmountNotConfirmed(TransitionNotAllowed):
    """What the person confirmed is not what the step would pay now (409, nothing changes):
    the amount moved between the confirmation page and the click (a refund accepted, a
    cap reached). Every money step with a confirmation page checks it."""

    code = "amount_not_confirmed"

    def __init__(self, amount: int, currency: str):
        from flask_babel import get_locale

        from arbiter.money import format_money

        super().__init__(
            gettext("This step pays %(amount)s, not the amount you confirmed. Check the "
                    "amount and confirm again.",
                    amount=format_money(amount, currency, str(get_locale() or "pl"))),
            fields={"confirm_amount": [str(amount)]})


class ConflictOfInterest(DomainError):
    """Staff acting on a case they are the buyer or the seller of (HTTP 403).

    Not a state the case is in (409): whatever its state, the step is not theirs to take;
    another staff member's is. They may see the case (as its party), so it is not 404.
    """

    status = 403
    code = "conflict_of_interest"


class NotFound(DomainError):
    status = 404
    code = "not_found"


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    """A finished response (JSON under /api/, else the error page) callers may add headers to."""
    if wants_json():
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        return make_response(jsonify(body), status)
    return make_response(render_template("errors/error.html", status=status, message=message),
                         status)


def domain_error_response(error: DomainError):
    return error_response(error.status, error.code, error.message, error.fields)


def _flatten(messages) -> dict:
    """webargs reports ``{location: {field: [messages]}}``; clients want ``{field: [...]}``,
    a list of strings per name. A nested field's messages go under a dotted name: the
    second file of ``files`` is ``files.1``."""
    if not isinstance(messages, dict):
        return {"_schema": [str(messages)]}
    fields: dict = {}
    for location, problems in messages.items():
        if isinstance(problems, dict):
            for name, value in problems.items():
                _add_messages(fields, str(name), value)
        else:
            fields.setdefault(f"_{location}", []).extend(
                map(schema_messages.translate,
                    problems if isinstance(problems, list) else [problems]))
    return fields


def _add_messages(fields: dict, name: str, value) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _add_messages(fields, f"{name}.{key}", inner)
    elif isinstance(value, list | tuple):
        for item in value:
            _add_messages(fields, name, item)
    else:
        fields.setdefault(name, []).append(value if isinstance(value, str) else str(value))


def http_error_response(error: HTTPException):
    messages = {
        400: gettext("The request was not understood (was the form token missing?)."),
        401: gettext("Authentication required: send a valid bearer token."),
        403: gettext("You are not allowed to do that."),
        404: gettext("There is nothing here."),
        405: gettext("That method is not allowed here."),
        409: gettext("That is not possible in the current state."),
        413: gettext("The upload is too large: at most 10 MB per file. Nothing was saved. "
                     "Go back (your browser usually keeps what you typed) and choose "
                     "smaller files."),
        429: gettext("Too many attempts. Please wait a minute and try again."),
    }
    status = error.code or 500
    message = messages.get(status, error.description or gettext("Something went wrong."))
    code = (error.name or "error").lower().replace(" ", "_")
    fields = None
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:  # a schema refused the input (webargs)
        code = "validation_failed"
        if set(data["messages"]) == {"query"}:
            message = gettext("Some query parameters are missing or invalid.")
        else:
            message = gettext("Some fields are missing or invalid.")
        fields = _flatten(data["messages"])
    elif status == 400 and "messages" in data:  # e.g. a body that is not JSON
        code = "bad_request"
        fields = _flatten(data["messages"])
    response = error_response(status, code, message, fields)
    # What werkzeug's exception says in headers stays said: a 405's Allow (RFC 9110
    # requires it), a 401's WWW-Authenticate, a 429's Retry-After.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if status == 429 and getattr(error, "retry_after", None):
        response.headers["Retry-After"] = str(error.retry_after)
    if status == 401 and wants_json():
        response.headers["WWW-Authenticate"] = 'Bearer realm="arbiter"'
    return response


def concurrent_change_response(error: StaleDataError):
    """Someone changed the same row between our read and our write (the version column
    caught it): nothing was saved, and trying again sees the new state."""
    from arbiter.extensions import db

    db.session.rollback()
    return error_response(409, "concurrent_change",
                          gettext("Someone else changed this at the same moment. Nothing "
                                  "was saved; please reload and try again."))


def is_unique_violation(error: DBAPIError) -> bool:
    """A unique index refused a row: PostgreSQL's SQLSTATE 23505, SQLite's message."""
    if not isinstance(error, IntegrityError):
        return False
    if isinstance(error.orig, sqlite3.IntegrityError):
        return "UNIQUE constraint failed" in str(error.orig)
    return getattr(error.orig, "sqlstate", None) == "23505"


def database_is_unavailable(error: DBAPIError) -> bool:
    """The database did not do its part, and trying again later may work: it went away
    (restart, failover, a killed connection), could not be reached in time, cancelled a
    statement or a lock wait at its timeout, or is out of space or connections
    (PostgreSQL's OperationalError classes), or SQLite's file stayed locked. Anything else
    (a missing table, a constraint) is a bug: a 500, not "try again"."""
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.OperationalError):
        return any(word in str(error.orig) for word in ("locked", "busy", "unable to open"))
    return isinstance(error, OperationalError)


def database_error_response(error: DBAPIError):
    """A unique index refused a row: 409. The database is unavailable: nothing of the
    request was committed, so nothing is half-written, and the caller is told to try again
    in a few seconds (503 and Retry-After, the error page or JSON); a dead connection is
    thrown away by the pool and the next request gets a fresh one. Anything else: 500."""
    from arbiter.extensions import db

    if is_unique_violation(error):
        # Someone created the same thing at the same moment and a unique index kept it
        # one. Creations that expect it name the winner (arbiter.db.add_unless_taken);
        # any other one is the same conflict, not a server error: 409, nothing saved.
        db.session.rollback()
        return error_response(409, "already_exists",
                              gettext("Someone else did this at the same moment. Nothing "
                                      "was saved; please reload and try again."))
    if not database_is_unavailable(error):
        raise error

    current_app.logger.warning("database unavailable, answered 503: %s",
                               str(error.orig).strip().splitlines()[0][:200])
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.close()
    response = error_response(503, "database_unavailable",
                              gettext("The service is briefly unavailable. Please try again "
                                      "in a few seconds."))
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


DATABASE_RETRY_AFTER_SECONDS = 5


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_error_response)
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(StaleDataError, concurrent_change_response)
    app.register_error_handler(DBAPIError, database_error_response)
