"""Arbiter: buyer-protection claims and disputes for an online marketplace."""

import importlib

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from arbiter import config as config_module
from arbiter import schema_messages

# Before any schema exists: marshmallow copies its messages into each field it creates.
schema_messages.install()


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in our routes is a row id: a number beyond a BIGINT is a 404, not an
    overflow inside the database driver (a 500 on PostgreSQL)."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, **{"max": 2**63 - 1, **kwargs})


def create_app(config: dict | None = None) -> Flask:
    """Build the application. ``config`` overrides defaults and ``ARBITER_*`` variables."""
    app = Flask(
        __name__,
        template_folder=str(config_module.ROOT / "templates"),
        instance_path=str(config_module.INSTANCE_DIR),
        instance_relative_config=True,
    )
    app.url_map.converters["int"] = RowIdConverter
    from arbiter.files import UploadRequest

    app.request_class = UploadRequest
    config_module.load(app, config)
    _trust_proxies(app)
    from arbiter.validation import refuse_deep_json

    refuse_deep_json(app)  # first of the request hooks: nothing may walk such a body
    _init_extensions(app)
    _register_blueprints(app)
    from arbiter.transactions import init_request_transactions

    init_request_transactions(app)  # after every blueprint: it wraps every view
    from accounts.second_factor import init_gate

    init_gate(app)  # after the transaction's hook: it reads the session in that transaction
    from accounts import verification

    verification.init_gate(app)  # after the second factor's: that one names the next step
    _register_background_work()
    _register_cli(app)
    from arbiter.errors import register_error_handlers
    from arbiter.templating import register_template_helpers

    register_error_handlers(app)
    register_template_helpers(app)
    from arbiter.urls import warn_when_the_base_url_disagrees

    warn_when_the_base_url_disagrees(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``PROXY_COUNT`` reverse proxies the client's address and scheme are the
    ones the proxies put in ``X-Forwarded-For`` and ``X-Forwarded-Proto`` (the rate limits
    key on that address). With 0 (the default) no such header is believed: anyone can
    send one. The Host header is never taken from the proxy: links use ``BASE_URL``."""
    proxies = int(app.config["PROXY_COUNT"])
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _init_extensions(app: Flask) -> None:
    from arbiter import i18n, models  # noqa: F401 - registers every table
    from arbiter.extensions import babel, csrf, db, limiter, login_manager, migrate
    from arbiter.security import init_security_headers

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    limiter.init_app(app)
    init_security_headers(app)

    from arbiter.tasks import init_celery

    init_celery(app)

    from accounts.auth import init_login

    login_manager.init_app(app)
    init_login(login_manager)


def _register_blueprints(app: Flask) -> None:
    from accounts.second_factor_views import bp as second_factor_bp
    from accounts.staff_views import bp as staff_bp
    from accounts.views import bp as accounts_bp
    from appeals.transparency import bp as transparency_bp
    from appeals.views import bp as appeals_bp
    from arbiter.api import init_api
    from arbiter.log_views import bp as audit_log_bp
    from arbiter.views import bp as core_bp
    from claims.version_views import bp as policy_versions_bp
    from claims.views import bp as claims_bp
    from dashboards.views import bp as dashboards_bp
    from disputes.views import bp as disputes_bp
    from incidents.views import bp as incidents_bp
    from integrations.views import bp as integrations_bp
    from orders.views import bp as orders_bp
    from settlements.views import bp as settlements_bp
    from signals.views import bp as signals_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(second_factor_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(disputes_bp)
    app.register_blueprint(claims_bp)
    app.register_blueprint(policy_versions_bp)
    app.register_blueprint(settlements_bp)
    app.register_blueprint(appeals_bp)
    app.register_blueprint(dashboards_bp)
    app.register_blueprint(incidents_bp)
    app.register_blueprint(integrations_bp)
    app.register_blueprint(transparency_bp)
    app.register_blueprint(audit_log_bp)
    app.register_blueprint(signals_bp)
    # The JSON API under /api/v1: bearer tokens, never the browser's cookie, so no CSRF.
    init_api(app)


# Each package's background work: its Celery tasks, sweeper jobs, the deadlines an
# incident extends and its part of a person's data (export and deletion hooks) register
# when the module is imported. Every process that builds the app imports them all (web,
# Celery worker and beat, CLI): a worker that had not would discard the package's messages
# as unregistered, extend no deadline of theirs, or build a data export without their data.
# The personal_data modules register in this order, which is the order of the packages'
# files in a data export and of their steps in an account deletion.
BACKGROUND_MODULES = ("disputes.deadlines", "claims.deadlines", "accounts.tasks",
                      "orders.personal_data", "disputes.personal_data",
                      "claims.personal_data", "appeals.personal_data",
                      "settlements.personal_data",
                      "incidents.personal_data",
                      "integrations.personal_data",
                      "claims.tasks", "disputes.tasks", "incidents.tasks",
                      "integrations.tasks", "settlements.tasks",
                      "appeals.deadlines", "appeals.tasks")


def _register_background_work() -> None:
    for module in BACKGROUND_MODULES:
        importlib.import_module(module)


def _register_cli(app: Flask) -> None:
    from accounts.cli import users_cli
    from arbiter.cli import (
        audit_cli,
        deliver_mail_command,
        seed_command,
        serve_command,
        sweep_command,
    )
    from integrations.cli import integrations_cli
    from orders.cli import orders_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(orders_cli)
    app.cli.add_command(integrations_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(seed_command)
    app.cli.add_command(sweep_command)
    app.cli.add_command(deliver_mail_command)
    app.cli.add_command(serve_command)
