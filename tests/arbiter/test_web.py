"""What every page promises: security headers, CSRF, languages, error shapes."""

import re

import pytest


def test_security_headers_on_every_response(client):
    for path in ("/", "/login", "/healthz", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_no_hsts_in_development(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_hsts_in_production(monkeypatch, tmp_path):
    from arbiter import create_app

    monkeypatch.setenv("ARBITER_ENV", "production")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.sqlite3",
                      "SECRET_KEY": "s", "BASE_URL": "https://arbiter.example"})
    response = app.test_client().get("/healthz", base_url="https://arbiter.example")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_assets_are_served_locally(client):
    page = client.get("/").text
    assert "cdn" not in page.lower()
    assets = re.findall(r'(?:href|src)="(/static/vendor/bootstrap/[^"]+)"', page)
    assert len(assets) == 3  # Bootstrap's CSS and JavaScript, and Popper
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200
        response.close()


@pytest.mark.parametrize("path", ["/logout", "/language", "/login", "/register"])
def test_forms_without_a_csrf_token_are_refused(fresh_app, path):
    app = fresh_app(WTF_CSRF_ENABLED=True)
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    client = app.test_client()
    response = client.post(path, data={"email": "a@example.com", "password": "x" * 12,
                                       "lang": "en"})
    assert response.status_code == 400


def test_csrf_token_from_the_form_is_accepted(fresh_app):
    app = fresh_app(WTF_CSRF_ENABLED=True)
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/language", data={"lang": "en", "csrf_token": token})
    assert response.status_code == 302


def test_polish_is_the_default_and_the_browser_language_picks(app, db_session):
    client = app.test_client()
    assert "Zaloguj się" in client.get("/login").text
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert "Log in" in english and "Zaloguj się" not in english


def test_the_language_switch_overrides_the_browser(app, db_session):
    client = app.test_client()
    client.post("/language", data={"lang": "pl", "next": "/login"},
                headers={"Accept-Language": "en"})
    assert "Zaloguj się" in client.get("/login", headers={"Accept-Language": "en"}).text


def test_switching_language_remembers_it_on_the_account(auth, client, buyer, db_session):
    from arbiter.extensions import db

    auth.login(buyer.email)
    client.post("/language", data={"lang": "en"})
    db.session.expire_all()
    assert buyer.locale == "en"


def test_language_switch_ignores_unknown_languages_and_foreign_redirects(client):
    response = client.post("/language", data={"lang": "xx", "next": "https://evil.example"})
    assert response.headers["Location"] == "/"


def test_unknown_pages_are_404_pages(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert "There is nothing here." in response.text
