"""Where links point: after login (:func:`safe_next_url`) and outside the site
(:func:`public_url`: e-mails, decision documents, the status feed)."""

import re
from urllib.parse import urlsplit

from flask import Flask, current_app, request

# A line break (or any control character) in a Location header is a 500 in werkzeug and
# header injection in anything that let it through.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next_url(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target or _CONTROL.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` at the configured public address (``BASE_URL``),
    never at the Host header of the request at hand: a decision document is never
    rendered again, an e-mail is sent by a background worker that has no request, and a
    cached public page must not carry a link some client's Host header chose."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path.rstrip("/") or "/",
                                       url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def warn_when_the_base_url_disagrees(app: Flask) -> None:
    """Log once per process when the first request reached the site at another address
    than ``BASE_URL``: links in e-mails and documents would point elsewhere."""
    state = {"checked": False}

    @app.before_request
    def _compare_the_first_request_with_the_base_url() -> None:
        if state["checked"]:
            return
        state["checked"] = True
        base = urlsplit(app.config["BASE_URL"])
        if (base.scheme, base.netloc.lower()) != (request.scheme, request.host.lower()):
            app.logger.warning(
                "ARBITER_BASE_URL is %s but this request reached %s://%s: links in e-mails "
                "and decision documents point to ARBITER_BASE_URL", app.config["BASE_URL"],
                request.scheme, request.host)
