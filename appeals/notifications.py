"""What appeal notifications say in the app (e-mails use the shared template)."""

from flask_babel import lazy_gettext as _l

from arbiter.notifications import register_texts

register_texts({
    "appeal.filed": _l("Your appeal #%(id)s was filed; a different staff member will review "
                       "it."),
    "appeal.filed_against": _l(
        "The other party appealed a decision on your case (appeal #%(id)s). You may add "
        "your statement until %(answer_due_at)s."),
    "appeal.answered": _l("The other party answered appeal #%(id)s."),
    "appeal.taken": _l("A reviewer took appeal #%(id)s."),
    "appeal.upheld": _l("Appeal #%(id)s was decided: the decision stands."),
    "appeal.varied": _l("Appeal #%(id)s was decided: the amount was changed."),
    "appeal.overturned": _l("Appeal #%(id)s was decided: the decision was overturned."),
})
