"""Whose budget a rate limit counts (issue 25 item 9): the signed-in user's, else the
client's address as the trusted proxies report it; never the proxy's own address."""

import pytest
from flask_migrate import upgrade

from arbiter.extensions import db, limiter
from tests.factories import Auth
from tests.incidents.test_reports import _report

PROXY = "10.0.0.5"  # every request reaches the app from the reverse proxy's address
VERIFY = "/decisions/ARB/2026/000001/verify"


def _behind_the_proxy(app, forwarded_for: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    if forwarded_for:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def test_one_users_problem_reports_do_not_stop_another_behind_the_same_proxy(
        app, db_session, time_machine, create_user):
    first, second = _behind_the_proxy(app), _behind_the_proxy(app)
    Auth(first, time_machine).login(create_user().email)
    Auth(second, time_machine).login(create_user().email)
    assert [_report(first).status_code for _ in range(10)] == [302] * 10
    assert _report(first).status_code == 429
    assert _report(second).status_code == 302


def test_one_users_verifications_do_not_stop_another_behind_the_same_proxy(
        app, db_session, time_machine, create_user):
    first, second = _behind_the_proxy(app), _behind_the_proxy(app)
    Auth(first, time_machine).login(create_user().email)
    Auth(second, time_machine).login(create_user().email)
    answers = [first.post(VERIFY, data={"sha256": "0" * 64}).status_code for _ in range(31)]
    assert answers == [422] * 30 + [429]
    assert second.post(VERIFY, data={"sha256": "0" * 64}).status_code == 422


@pytest.fixture
def proxied_app(fresh_app):
    def build(proxies: int):
        app = fresh_app(PROXY_COUNT=proxies)
        with app.app_context():
            upgrade()
        limiter.reset()
        return app

    yield build
    limiter.reset()


def _verify_until_refused(client) -> list[int]:
    return [client.post(VERIFY, data={"sha256": "0" * 64}).status_code for _ in range(31)]


def test_anonymous_clients_behind_a_trusted_proxy_count_apart(proxied_app):
    app = proxied_app(1)
    assert _verify_until_refused(_behind_the_proxy(app, "198.51.100.7")) == [422] * 30 + [429]
    assert _behind_the_proxy(app, "203.0.113.9").post(
        VERIFY, data={"sha256": "0" * 64}).status_code == 422
    with app.app_context():
        db.engine.dispose()


def test_a_forged_forwarded_for_is_not_believed_without_a_trusted_proxy(proxied_app):
    app = proxied_app(0)
    assert _verify_until_refused(_behind_the_proxy(app, "198.51.100.7")) == [422] * 30 + [429]
    # Another forged address is the same client: it does not get a fresh budget.
    assert _behind_the_proxy(app, "203.0.113.9").post(
        VERIFY, data={"sha256": "0" * 64}).status_code == 429
    with app.app_context():
        db.engine.dispose()
