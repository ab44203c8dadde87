"""What settlement notifications say in the app (e-mails use the shared template)."""

from flask_babel import lazy_gettext as _l

from arbiter.notifications import register_texts

register_texts({
    "settlement.recovery_owed": _l(
        "The platform paid the buyer of your sale and recovers %(amount)s from you by "
        "%(due_at)s (settlement #%(id)s)."),
    "settlement.confirmed": _l("Settlement #%(id)s was confirmed as fulfilled."),
    "settlement.recovered": _l(
        "The platform received your repayment of settlement #%(id)s; you owe nothing more "
        "for it."),
    "settlement.failed": _l(
        "Settlement #%(id)s was not fulfilled; the discussion is open again and buyer "
        "protection continues."),
    "settlement.proof_submitted": _l(
        "The seller says settlement #%(id)s is done. If it has not arrived, you can say so "
        "until %(contest_until)s."),
    "settlement.overdue": _l(
        "Settlement #%(id)s was due on %(due_at)s. Did it arrive? Tell us on the discussion "
        "page."),
})
