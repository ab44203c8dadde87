"""What account notifications say in the app (e-mails: templates/emails/data_export_ready/)."""

from flask_babel import lazy_gettext as _l

from arbiter.notifications import register_texts

register_texts({
    "data_export.ready": _l(
        "Your data export #%(id)s is ready. Download it from your account page within "
        "7 days."),
    "data_export.failed": _l(
        "Your data export #%(id)s could not be prepared. Please ask for a new one on your "
        "account page."),
})
