"""API fixtures: bearer tokens and a client that sends them."""

import pytest

from arbiter.extensions import db
from integrations import tokens
from integrations.models import Scope


class ApiClient:
    """The test client with ``token=`` on every call (``None``: no Authorization header)."""

    def __init__(self, client):
        self.client = client

    def open(self, method: str, path: str, *, token: str | None = None, headers=None,
             **kwargs):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.open("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.open("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)


@pytest.fixture
def api(client):
    return ApiClient(client)


@pytest.fixture
def token_for(db_session):
    """A user token for ``user`` (what POST /api/v1/auth/tokens hands out)."""

    def issue(user) -> str:
        issued = tokens.issue_user_token(user, "test")
        db.session.commit()
        return issued.token

    return issue


@pytest.fixture
def integration_token(db_session) -> str:
    """The marketplace's token, with every scope."""
    issued = tokens.create_integration_token("marketplace", scopes=list(Scope))
    db.session.commit()
    return issued.token


@pytest.fixture
def integration_token_for(db_session):
    """A token of another integration ``name`` with ``scopes`` (default: every scope)."""

    def issue(name: str, scopes=tuple(Scope)) -> str:
        issued = tokens.create_integration_token(name, scopes=scopes)
        db.session.commit()
        return issued.token

    return issue


@pytest.fixture
def local_receiver_allowed(app):
    """Webhooks may go to 127.0.0.1 (the tests' own receiver) for this test only; by
    default every loopback address is refused."""
    before = app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"]
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = ["127.0.0.1/32"]
    yield
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = before
