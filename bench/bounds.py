"""The production app plus two routes that do a page's work except its own part: served
only by ``python -m bench.pages --bounds`` (``gunicorn bench.bounds:app``), never by
``wsgi:app``.

They measure how fast the discussion page and posting a message could be if rendering the
page, or writing the message, cost nothing: everything else (the session's user, Flask,
Flask-Login, Flask-WTF's CSRF check, Flask-Babel, Flask-Limiter, Talisman, the discussion's
read and its access check) stays. A target above its bound cannot be met by making the
page's own part cheaper.
"""

from flask import redirect, url_for
from flask_login import login_required

from disputes.forms import MessageForm
from disputes.views import _visible_discussion, _visible_thread
from wsgi import app


@app.get("/bench/discussions/<int:discussion_id>/unrendered")
@login_required
def discussion_unrendered(discussion_id: int):
    """The discussion page up to rendering: its user, its statement and the access check."""
    _visible_thread(discussion_id)
    return ""


@app.post("/bench/discussions/<int:discussion_id>/messages/unwritten")
@login_required
def message_unwritten(discussion_id: int):
    """Posting a message without writing it: the CSRF check, the form, the discussion read
    and locked as the service reads it, the redirect; no message, audit entry, notification
    or commit."""
    _visible_discussion(discussion_id)
    if not MessageForm().validate():
        return "invalid", 422
    return redirect(url_for("disputes.thread", discussion_id=discussion_id))
