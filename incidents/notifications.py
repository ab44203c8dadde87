"""What incident notifications say in the app (e-mails use templates/emails/_notification/)."""

from flask_babel import lazy_gettext as _l

from arbiter.notifications import register_texts

register_texts({
    "problem_report.received": _l(
        "Thank you: we received your report of a problem with the platform (#%(id)s). "
        "Our team will look into it."),
    "problem_report.linked": _l(
        "Your problem report #%(id)s is part of a known incident: %(title)s. Follow it on "
        "the status page."),
    "problem_report.incident_resolved": _l(
        "The incident behind your problem report #%(id)s is resolved: %(title)s."),
})
