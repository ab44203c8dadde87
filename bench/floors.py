"""The page floor and the write floor: the production app plus two routes that do nothing
of their own, served only by ``python -m bench.pages`` (``gunicorn bench.floors:app``),
never by ``wsgi:app``.

Every Arbiter page pays for the same stack before it does anything of its own: the
session's row and user (Flask-Login), Flask-WTF's CSRF, Flask-Babel, Flask-Limiter,
Talisman's headers, the request's transaction (read-only for a GET) and the base layout.
These two routes pay for that stack and almost nothing else, so a page's share of them
is the share of its cost that is its own work:

- ``GET /bench/floor``: a logged-in page rendering a template of one line that extends
  ``base.html`` (the navigation, the unread count, the incident banner, the footer), with
  a form holding a CSRF token as the real pages' forms do;
- ``POST /bench/floor``: a logged-in post (its CSRF token read from that page) that writes
  one row and one audit entry in the request's transaction, flashes and redirects back,
  as every changing view does (``arbiter.views.done``).

The row is a notification for the user who posts: a table every account can have rows
in without any other row existing first (no order or discussion), one INSERT with a
foreign key to ``users``, the row the real post also writes (for the other party). It is
written already read: the session statement of every request counts the user's unread
notifications, and a count growing with every post would slow the floor down during the
run. The audit entry is ``arbiter.audit.record``'s, as every change of state writes one:
the lock of the user's chain, its previous entry's hash, the INSERT.
"""

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from arbiter import audit, clock, create_app
from arbiter.extensions import db
from arbiter.notifications import Notification
from arbiter.transactions import in_transaction
from arbiter.views import done

WRITTEN = "bench.floor_written"

bp = Blueprint("bench_floors", __name__, template_folder="templates")


@bp.get("/bench/floor")
@login_required
def page():
    """The layout every page has, around one line."""
    return render_template("bench/floor.html")


@bp.post("/bench/floor")
@login_required
def write():
    """One notification and its audit entry, then back to the page."""
    user = current_user._get_current_object()
    notification = Notification(user_id=user.id, kind=WRITTEN, object_type="users",
                                object_id=user.id, read_at=clock.now())
    db.session.add(notification)
    audit.record(WRITTEN, notification, actor=user)
    return done(url_for("bench_floors.page"), _("Saved."))


app = create_app()
app.register_blueprint(bp)
# create_app() put every view it registered in the request's transaction; these come
# after it, so they are wrapped here the same way (arbiter.transactions).
for _endpoint in ("bench_floors.page", "bench_floors.write"):
    app.view_functions[_endpoint] = in_transaction(app.view_functions[_endpoint])
