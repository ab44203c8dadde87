"""The JSON API shell: flask-smorest under ``/api/v1``, one error shape, shared schemas.

The OpenAPI 3 document is generated from the marshmallow schemas of the endpoints and
served at ``/api/v1/openapi.json``; the browsable docs (Swagger UI, served from the files
of the ``flask-swagger-ui`` package, no CDN) are at ``/api/v1/docs``. Every error under
``/api/`` has the shape ``{"error": {"code", "message", "fields"}}``: the application's
own error handlers produce it (flask-smorest's handler is not installed), including the
422 for input a schema refuses.
"""

import re
from importlib.resources import files as package_files

import flask
import flask_smorest
import marshmallow as ma
from flask import Flask, abort, render_template, send_from_directory
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from arbiter import RowIdConverter
from arbiter.money import AMOUNT_PATTERN, POSITIVE_AMOUNT_PATTERN
from arbiter.schema_messages import number_range
from arbiter.schemas import AmountField

API_PREFIX = "/api/v1"
# Text a request schema takes holds no NUL character (NoNulCharacters refuses it).
NO_NUL_PATTERN = r"^[^\x00]*$"
BEARER = [{"bearerAuth": []}]


class IdConverter(RowIdConverter):
    """``<id:name>``: a row id, 1 to 2^63 - 1 (larger numbers are 404, not a database error)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1)


def openapi_path(rule: str) -> str:
    """``/a/<id:x>/<string:y>`` -> ``/a/{x}/{y}``."""
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)


class _Messages(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "stable, machine-readable"})
    message = ma.fields.String(required=True, metadata={"description": "for people, translated"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()), required=True,
        metadata={"description": "per input field: what is wrong with it"})


class ErrorSchema(ma.Schema):
    """Every error under /api: ``{"error": {"code", "message", "fields"}}``."""

    error = ma.fields.Nested(_Messages, required=True)


class _Parser(FlaskParser):
    """``location="files"`` reads a whole multipart body: its text fields and its files.

    flask-smorest documents one request body per operation, and a claim needs both.
    Unknown fields of a body are refused there too (webargs would silently drop them);
    unknown query parameters are ignored (a cache-buster is not a client error).
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "files": None}

    def load_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """The application's handlers (arbiter.errors) answer every error, in one shape."""


class OutSchema(ma.Schema):
    """A response schema: every field is ``dump_only`` (readOnly in the document)."""

    def __init__(self, *args, **kwargs):
        kwargs["dump_only"] = set(kwargs.get("dump_only") or ()) | set(self._declared_fields)
        super().__init__(*args, **kwargs)


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class NoNulCharacters:
    """Text with a NUL character is refused (422): PostgreSQL cannot store it."""

    @ma.pre_load
    def _refuse_nul_characters(self, data, **kwargs):
        if hasattr(data, "keys"):
            bad = {key: ["must not contain NUL characters"] for key in list(data.keys())
                   if _has_nul(data.get(key))}
            if bad:
                raise ma.ValidationError(bad)
        return data


class InSchema(NoNulCharacters, ma.Schema):
    """A request schema: every field is ``load_only`` (writeOnly in the document) and
    unknown fields are refused (422), never silently stored."""

    class Meta:
        unknown = ma.RAISE

    def __init__(self, *args, **kwargs):
        kwargs["load_only"] = set(kwargs.get("load_only") or ()) | set(self._declared_fields)
        super().__init__(*args, **kwargs)


class ListQuery(InSchema):
    after = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64),
                             metadata={"description": "next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=20, validate=number_range(1, 100))


def page_schema(item_schema, name: str) -> type[ma.Schema]:
    """``{"items": [...], "next_cursor": "..." | null}``."""
    return type(name, (OutSchema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        "next_cursor": ma.fields.String(allow_none=True, required=True, metadata={
            "description": "pass as ?after= for the next page; null on the last page"}),
    })


def money(**kwargs) -> AmountField:
    """An amount on the wire: a decimal string with at most two decimals, e.g. "120.50"."""
    return AmountField(**kwargs)


def _document_what_schemas_refuse(self, field, ret, **kwargs) -> dict:
    """The document allows exactly what the request schemas accept, for every schema: an
    amount is a decimal string within parse_amount's range (above zero where zero is
    refused), and text that NoNulCharacters checks holds no NUL. An apispec attribute
    function (``self`` is its converter), so no schema repeats it."""
    if isinstance(field, AmountField):
        return {"type": "string", "example": ret.get("example", "120.50"),
                "pattern": POSITIVE_AMOUNT_PATTERN if field.positive else AMOUNT_PATTERN}
    if (isinstance(field, ma.fields.String) and not {"pattern", "enum"} & set(ret)
            and isinstance(field.root, NoNulCharacters)):
        return {"pattern": NO_NUL_PATTERN}
    return {}


class MoneyOut(ma.fields.Field):
    """Grosze out as a decimal string ("123.45")."""

    def _serialize(self, value, attr, obj, **kwargs):
        from arbiter.money import to_decimal_string

        return None if value is None else to_decimal_string(value)


def init_api(app: Flask) -> None:
    from arbiter.extensions import csrf

    app.config.setdefault("API_TITLE", "Arbiter")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": (
            "The marketplace's JSON API: push orders, follow and act on discussions and "
            "protection claims and appeals, read the event feed. Authenticate with "
            "`Authorization: Bearer <token>`; send `Idempotency-Key` on POST.")},
        "servers": [{"url": "/"}],
    })
    app.url_map.converters["id"] = IdConverter
    api = Api(app)
    app.extensions["arbiter_api"] = api
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer",
                       "description": "an integration token or a user token"})
    api.register_field(MoneyOut, "string", None)
    api.ma_plugin.converter.add_attribute_function(_document_what_schemas_refuse)
    # The docs blueprint serves openapi.json; it changes nothing, so no CSRF token.
    csrf.exempt(app.blueprints[api._make_doc_blueprint_name()])

    from appeals.api import blp as appeals_blp
    from arbiter.log_views import blp as audit_log_blp
    from claims.api import blp as claims_blp
    from disputes.api import blp as disputes_blp
    from incidents.api import blp as status_blp
    from integrations.api import blp as integrations_blp
    from orders.api import blp as orders_blp
    from settlements.api import blp as settlements_blp
    from signals.api import blp as signals_blp

    for blueprint in (integrations_blp, orders_blp, disputes_blp, claims_blp, appeals_blp,
                      settlements_blp, status_blp, signals_blp, audit_log_blp):
        csrf.exempt(blueprint)  # bearer tokens only, never the browser's cookie
        api.register_blueprint(blueprint)
    _document_idempotency_keys(api, app)
    app.register_blueprint(docs)

    from integrations.auth import note_token_use

    # Registered before the request's transaction begins (arbiter.transactions).
    app.before_request(note_token_use)


def _idempotency_parameter() -> dict:
    from integrations.idempotency import KEY_PATTERN, MAX_KEY_LENGTH

    return {
        "in": "header", "name": "Idempotency-Key", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
                   "pattern": KEY_PATTERN},
        "description": (
            "Repeat a POST safely: the first answer is stored for 24 hours and replayed "
            "(with Idempotent-Replayed: true); the same key with another body is 422, while "
            "the first request still runs 409. Printable ASCII, not starting or ending with "
            "a space."),
    }


def _document_idempotency_keys(api: Api, app: Flask) -> None:
    """Every POST that takes an Idempotency-Key says so in the document."""
    guarded = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if "POST" in (rule.methods or ()) and getattr(view, "_api_auth", None):
            guarded.add(openapi_path(rule.rule))
    for path, operations in api.spec._paths.items():  # apispec keeps no public setter
        if path in guarded and "post" in operations:
            operations["post"].setdefault("parameters", []).append(_idempotency_parameter())


docs = flask.Blueprint("api_browser", __name__, url_prefix=API_PREFIX)
SWAGGER_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "LICENSE", "VERSION")


@docs.route("/docs")
def docs_page():
    """Browsable API documentation (Swagger UI from local files; no inline script)."""
    return render_template("api/docs.html")


@docs.route("/docs/assets/<name>")
def docs_asset(name: str):
    """The Swagger UI files shipped by the flask-swagger-ui package."""
    if name not in SWAGGER_ASSETS:
        abort(404)
    directory = package_files("flask_swagger_ui") / "dist"
    return send_from_directory(str(directory), name, max_age=86_400)
