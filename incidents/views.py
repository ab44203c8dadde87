"""The public status page and feed, "Report a problem", and the staff incident pages.
Each changing view: load, check, one service call, one commit, redirect.
"""


from flask import (
    Blueprint,
    abort,
    flash,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from accounts.auth import role_required
from accounts.roles import Role
from accounts.services import page_extra, register_page_extra
from arbiter import clock
from arbiter.errors import DomainError, ValidationFailed
from arbiter.extensions import db, limiter
from arbiter.files import Upload
from arbiter.i18n import LANGUAGES
from arbiter.storage import send_stored
from arbiter.urls import public_url
from arbiter.views import done
from incidents import feed, queries, services
from incidents.forms import (
    DeclareForm,
    ProblemReportForm,
    ResolveForm,
    UpdateForm,
    WindowForm,
)
from incidents.models import Incident, ProblemReport
from incidents.states import (
    DEADLINE_KIND_LABELS,
    SERVICE_LABELS,
    STATE_LABELS,
    UPDATE_KIND_LABELS,
    AffectedService,
    DeadlineKind,
    IncidentState,
    UpdateKind,
    allowed,
)

bp = Blueprint("incidents", __name__)


# --- everyone -----------------------------------------------------------------------------


@bp.route("/status")
def status():
    """Is the platform working? Open incidents and those of the last 90 days, with their
    timelines; no login, nothing personal."""
    return render_template("incidents/status.html", page=queries.status(clock.now()))


@bp.route("/status/feed.atom")
def status_feed():
    """The status page as an Atom feed: one entry per incident update, in the language of
    ``?lang=`` (pl or en), else the reader's."""
    lang = request.args.get("lang")
    if lang not in LANGUAGES:
        lang = str(get_locale() or "pl")
    with force_locale(lang):
        xml = feed.atom(queries.status(clock.now()),
                        status_url=public_url("incidents.status"),
                        feed_url=public_url("incidents.status_feed", lang=lang),
                        locale=lang, now=clock.now())
    response = make_response(xml)
    response.mimetype = "application/atom+xml"
    response.headers["Cache-Control"] = "public, max-age=60"
    response.vary.add("Accept-Language")
    return response


@bp.route("/report-problem", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def report_problem():
    """Report a problem with the platform itself, optionally with a screenshot."""
    form = ProblemReportForm()
    if form.validate_on_submit():
        screenshot = request.files.get("screenshot")
        try:
            services.report_problem(
                current_user._get_current_object(), what_happened=form.what_happened.data,
                happened_at=form.happened_at.data, doing=form.doing.data,
                screenshot=Upload(screenshot.filename, screenshot.read())
                if screenshot and screenshot.filename else None)
        except ValidationFailed as error:
            db.session.rollback()
            _show_error(form, error, "what_happened")
            return render_template("incidents/report_problem.html", form=form), error.status
        flash(_("Thank you. We received your report and will look into it."), "success")
        return redirect(url_for("core.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("incidents/report_problem.html", form=form), status


def _show_error(form, error: DomainError, default_field: str) -> None:
    """Put a service error next to the form field it is about."""
    name = next((key for key in error.fields if key in form), default_field)
    form[name].errors.append(error.message)


# --- staff: incidents -----------------------------------------------------------------------


def _incident_or_404(incident_id: int) -> Incident:
    incident = queries.incident_page(incident_id)
    if incident is None:
        abort(404)
    return incident


@bp.route("/staff/incidents")
@role_required(Role.ADMIN)
def incidents():
    """Every incident, open ones first, with a warning where users wait for an update."""
    return render_template("incidents/list.html", rows=queries.staff_list(clock.now()))


@bp.route("/staff/incidents/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def declare():
    """Declare an incident: it appears on /status and in the banner at once."""
    form = DeclareForm()
    if form.validate_on_submit():
        try:
            incident = services.declare(
                current_user._get_current_object(), title=form.title.data,
                title_en=form.title_en.data, impact=form.impact.data,
                impact_en=form.impact_en.data, affected_services=form.affected_services.data,
                started_at=form.started_at.data)
        except ValidationFailed as error:
            db.session.rollback()
            _show_error(form, error, "title")
            return render_template("incidents/declare.html", form=form), error.status
        return done(url_for("incidents.incident", incident_id=incident.id),
                    _("The incident is declared and shown on the status page."))
    if not form.is_submitted():
        form.started_at.data = clock.now()
    status = 422 if form.is_submitted() else 200
    return render_template("incidents/declare.html", form=form), status


def _incident_page(incident: Incident, status: int = 200, **forms):
    incident = queries.incident_page(incident.id)
    now = clock.now()
    window_form = forms.get("window_form") or WindowForm(formdata=None, data={
        "started_at": incident.started_at, "ended_at": incident.ended_at})
    resolve_form = forms.get("resolve_form") or ResolveForm(formdata=None, data={
        "ended_at": now})
    return render_template(
        "incidents/incident.html", incident=incident, row=queries.staff_row(incident, now),
        counts=queries.extension_counts(incident.id),
        reports=queries.reports_for_incident(incident.id), now=now,
        update_form=forms.get("update_form") or UpdateForm(formdata=None),
        resolve_form=resolve_form, window_form=window_form), status



@bp.route("/staff/incidents/<int:incident_id>")
@role_required(Role.ADMIN)
def incident(incident_id: int):
    """The incident's timeline, its window, its extensions and the reports linked to it."""
    return _incident_page(_incident_or_404(incident_id))


@bp.route("/staff/incidents/<int:incident_id>/updates", methods=["POST"])
@role_required(Role.ADMIN)
def post_update(incident_id: int):
    """Post a public update: confirmed, impact or progress."""
    incident = _incident_or_404(incident_id)
    form = UpdateForm()
    if not form.validate():
        return _incident_page(incident, 422, update_form=form)
    try:
        services.post_update(incident, current_user._get_current_object(),
                             kind=UpdateKind(form.kind.data), body=form.body.data,
                             body_en=form.body_en.data)
    except ValidationFailed as error:
        db.session.rollback()
        _show_error(form, error, "body")
        return _incident_page(incident, error.status, update_form=form)
    return done(url_for("incidents.incident", incident_id=incident_id),
                _("The update is on the status page."))


@bp.route("/staff/incidents/<int:incident_id>/resolve", methods=["POST"])
@role_required(Role.ADMIN)
def resolve(incident_id: int):
    """Resolve with the end time; the deadlines that ran during it are extended."""
    incident = _incident_or_404(incident_id)
    form = ResolveForm()
    if not form.validate():
        return _incident_page(incident, 422, resolve_form=form)
    try:
        services.resolve(incident, current_user._get_current_object(),
                         ended_at=form.ended_at.data, body=form.body.data,
                         body_en=form.body_en.data)
    except ValidationFailed as error:
        db.session.rollback()
        _show_error(form, error, "body")
        return _incident_page(incident, error.status, resolve_form=form)
    return done(url_for("incidents.incident", incident_id=incident_id),
                _("The incident is resolved. Deadlines that ran during it are "
                  "extended by 24 hours."))


@bp.route("/staff/incidents/<int:incident_id>/window", methods=["POST"])
@role_required(Role.ADMIN)
def change_window(incident_id: int):
    """Correct the start (and, once resolved, the end) of the incident."""
    incident = _incident_or_404(incident_id)
    form = WindowForm()
    if not form.validate():
        return _incident_page(incident, 422, window_form=form)
    try:
        changed = services.change_window(incident, current_user._get_current_object(),
                                         started_at=form.started_at.data,
                                         ended_at=form.ended_at.data)
    except ValidationFailed as error:
        db.session.rollback()
        _show_error(form, error, "started_at")
        return _incident_page(incident, error.status, window_form=form)
    if not changed:
        db.session.rollback()
        flash(_("The window is unchanged."), "info")
        return redirect(url_for("incidents.incident", incident_id=incident_id))
    return done(url_for("incidents.incident", incident_id=incident_id),
                _("The window is changed; deadlines now inside it are "
                  "extended, none twice."))


@bp.route("/staff/incidents/<int:incident_id>/extend", methods=["POST"])
@role_required(Role.ADMIN)
def extend_deadlines(incident_id: int):
    """Extend the deadlines now, before the resolution (each at most once)."""
    incident = _incident_or_404(incident_id)
    services.extend_deadlines(incident, current_user._get_current_object())
    return done(url_for("incidents.incident", incident_id=incident_id),
                _("Deadlines that ran during the incident are being extended "
                  "by 24 hours, each once."))


# --- staff: problem reports -------------------------------------------------------------------


@bp.route("/staff/problem-reports")
@role_required(Role.ADMIN)
def problem_reports():
    """Users' reports of problems with the platform, newest first, with their incident."""
    page = queries.problem_reports(cursor=request.args.get("after"))
    return render_template("incidents/reports.html", page=page,
                           incidents=queries.linkable_incidents(clock.now()))


@bp.route("/staff/problem-reports/<int:report_id>/link", methods=["POST"])
@role_required(Role.ADMIN)
def link_report(report_id: int):
    """File a report under an incident; the reporter is told which one."""
    report = db.session.get(ProblemReport, report_id)
    if report is None:
        abort(404)
    incident_id = request.form.get("incident_id", type=int)
    if incident_id is None:
        abort(422)
    changed = services.link_report_to_incident(report, incident_id,
                                               current_user._get_current_object())
    if changed:
        flash(_("The report is linked to incident #%(id)s.", id=incident_id), "success")
    return redirect(url_for("incidents.problem_reports"))


@bp.route("/staff/problem-reports/<int:report_id>/screenshot")
@role_required(Role.ADMIN)
def screenshot(report_id: int):
    """A report's screenshot, for staff, always as a download."""
    report = db.session.get(ProblemReport, report_id)
    if report is None or report.screenshot_key is None:
        abort(404)
    return send_stored(report.screenshot_key, filename=report.screenshot_filename,
                       mimetype=report.screenshot_content_type)


# --- templates ------------------------------------------------------------------------------


def _extension_notices(obj) -> list[queries.ExtensionNotice]:
    """The incidents that extended a deadline of this discussion, claim or order."""
    kind = DeadlineKind
    table = getattr(obj, "__tablename__", None)
    if table == "discussions":
        targets = [((kind.DISCUSSION_RESPOND_BY, kind.DISCUSSION_ESCALATION), [obj.id]),
                   ((kind.INFORMATION_REQUEST,), [r.id for r in obj.information_requests])]
    elif table == "claims":
        targets = [((kind.DOCUMENT_REQUEST,), [r.id for r in obj.document_requests]),
                   ((kind.FILING_WINDOW,), [obj.order_id]),
                   ((kind.CLAIM_SELLER_ANSWER,), [obj.id])]
    elif table == "orders":
        targets = [((kind.FILING_WINDOW,), [obj.id])]
    else:
        return []
    return queries.extension_notices(targets)


register_page_extra("open_incidents", lambda: queries.open_incident_count().scalar_subquery())


def _open_incidents():
    # Only pages ask (base.html, once): e-mails and PDFs never pay for the query.
    if not has_request_context():
        return []
    # A logged-in user's session query already counted the open incidents.
    if current_user.is_authenticated and page_extra(current_user, "open_incidents") == 0:
        return []
    try:
        return queries.open_incidents_for_banner()
    except SQLAlchemyError:  # the banner must not turn an error page into a crash
        db.session.rollback()
        return []


def _in_reader_language(obj, field: str):
    """An incident's public text (``title``, ``impact``, an update's ``body``) in the page's
    language, falling back to Polish (templates/macros.html ``incident_text`` marks it)."""
    return obj.text_in(field, str(get_locale() or "pl"))


def _falls_back(incident: Incident) -> bool:
    """Whether any public text of the incident is shown in Polish to a reader of English."""
    texts = [(incident, "title"), (incident, "impact")] + [(u, "body") for u in incident.updates]
    return any(_in_reader_language(obj, field).fallback for obj, field in texts)


_HELPERS = {
    "open_incidents": _open_incidents,
    "incident_text_of": _in_reader_language,
    "incident_falls_back": _falls_back,
    "incident_extensions": _extension_notices,
    "incident_state_label": lambda value: STATE_LABELS[IncidentState(value)],
    "update_kind_label": lambda value: UPDATE_KIND_LABELS[UpdateKind(value)],
    "service_label": lambda value: SERVICE_LABELS[AffectedService(value)],
    "deadline_kind_label": lambda value: DEADLINE_KIND_LABELS[DeadlineKind(value)],
    "incident_action_allowed": allowed,
}


@bp.app_context_processor
def _incident_helpers():
    return _HELPERS
