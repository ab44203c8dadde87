"""Named errors the services raise, and how views and the API turn them into responses.

Bad input -> 422 (API) or a form error (HTML); a forbidden transition -> 409; someone
else's object -> 404; too large -> 413; too many -> 429. JSON errors always have the shape
``{"error": {"code", "message", "fields"}}``.
"""

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException


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


class TransitionNotAllowed(DomainError):
    """The state machine forbids this step now (HTTP 409)."""

    status = 409
    code = "transition_not_allowed"


class NotFound(DomainError):
    status = 404
    code = "not_found"


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    if wants_json():
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return error_response(error.status, error.code, error.message, error.fields)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            400: gettext("The request was not understood (was the form token missing?)."),
            403: gettext("You are not allowed to do that."),
            404: gettext("There is nothing here."),
            405: gettext("That method is not allowed here."),
            409: gettext("That is not possible in the current state."),
            413: gettext("The upload is too large."),
            429: gettext("Too many attempts. Please wait a minute and try again."),
        }
        status = error.code or 500
        message = messages.get(status, error.description or gettext("Something went wrong."))
        code = (error.name or "error").lower().replace(" ", "_")
        response = error_response(status, code, message)
        if status == 429 and getattr(error, "retry_after", None):
            response[0].headers["Retry-After"] = str(error.retry_after)
        return response
