"""Security headers (flask-talisman): an explicit CSP, nosniff, HSTS in production; and
who may keep a copy of an answer (``Cache-Control``)."""

from flask import Flask, Response, current_app, g, request, session

from arbiter.extensions import talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def init_security_headers(app: Flask) -> None:
    production = app.config["ENV"] == "production"
    talisman.init_app(
        app,
        force_https=production,
        strict_transport_security=production,
        strict_transport_security_max_age=31_536_000,
        session_cookie_secure=production,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        x_content_type_options=True,
    )
    app.after_request(_cache_control)


# Pages and API answers that are the same for every anonymous visitor and hold nothing
# personal: a browser or a shared cache may keep them (the feed says for how long).
PUBLIC_ENDPOINTS = frozenset({
    "incidents.status", "incidents.status_feed", "claims.protection_rules",
    "core.verify_decision", "accounts.privacy", "transparency.transparency",
    "Status.status", "api-docs.openapi_json", "api_browser.docs_page",
    "audit_log.transparency_log", "Audit log.log_head", "Audit log.consistency",
    "Audit log.decision",
})
# Files of the site itself (CSS, JavaScript, fonts): cacheable whoever asks.
ASSET_ENDPOINTS = frozenset({"static", "api_browser.docs_asset"})


def _identified() -> bool:
    """The request speaks for someone: a signed-in browser (its session or remember
    cookie) or a bearer token, valid or not."""
    login = g.get("_login_user")
    return bool(
        (login is not None and login.is_authenticated)
        or session.get("_user_id")
        or current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
        or "Authorization" in request.headers
    )


def _cache_control(response: Response) -> Response:
    """``no-store`` on every answer but the public ones asked anonymously and the site's
    own files: pages and API answers show names, addresses, bank accounts, evidence and
    decisions, and neither a shared cache nor the browser's disk (a shared computer, the
    back button after logout) may keep them. Simplest rule that is right: everything to a
    signed-in user or a bearer token, and everything not on the short public list."""
    endpoint = request.endpoint or ""
    if endpoint in ASSET_ENDPOINTS or endpoint.endswith(".static"):
        return response
    if endpoint in PUBLIC_ENDPOINTS and not _identified():
        return response
    response.headers["Cache-Control"] = "no-store"
    response.headers.pop("Expires", None)
    return response
