"""Incident forms. Times are typed in Warsaw time and arrive as aware datetimes."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    FileField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from arbiter.clock import WARSAW
from incidents import policy
from incidents.states import SERVICE_LABELS, UPDATE_KIND_LABELS, UpdateKind

# What a browser's datetime-local input sends (with or without seconds).
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
WARSAW_TIME = _l("Warsaw time.")


def _choices(labels):
    return [SelectChoice(key.value, label) for key, label in labels.items()]


def _local_time(label, *, required: bool = True, description=WARSAW_TIME, field_id=None):
    return DateTimeLocalField(label, format=LOCAL_FORMATS, tz=WARSAW,
                              description=description, id=field_id,
                              validators=[InputRequired()] if required else [Optional()])


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# Every public text is written in Polish (required) and English (optional): readers of
# English see the Polish text, with a note, until the English one exists.
ENGLISH_OPTIONAL = _l("Optional. Without it, readers of English see the Polish text with "
                      "a note.")


def _english(label, *, maximum: int = policy.TEXT_MAX, field=TextAreaField, **options):
    return field(label, validators=[Optional(), Length(max=maximum)],
                 description=ENGLISH_OPTIONAL, **options)


class DeclareForm(FlaskForm):
    # The Polish fields keep the names ``title`` and ``impact`` the services take.
    title = StringField(_l("Title in Polish (public)"), validators=[
        DataRequired(), Length(max=policy.TITLE_MAX)],
        description=_l("Shown on the status page: say what fails, not why."))
    title_en = _english(_l("Title in English (public)"), maximum=policy.TITLE_MAX,
                        field=StringField)
    impact = TextAreaField(_l("Impact in Polish (public)"), validators=[
        DataRequired(), Length(max=policy.TEXT_MAX)],
        description=_l("What users cannot do."))
    impact_en = _english(_l("Impact in English (public)"))
    affected_services = CheckboxesField(_l("Affected services"),
                                        choices=_choices(SERVICE_LABELS))
    started_at = _local_time(_l("Started"), description=_l(
        "Warsaw time; may be in the past."))
    submit = SubmitField(_l("Declare the incident"))


class UpdateForm(FlaskForm):
    kind = SelectField(_l("Kind of update"), choices=_choices(
        {kind: label for kind, label in UPDATE_KIND_LABELS.items()
         if kind is not UpdateKind.RESOLVED}), validators=[DataRequired()])
    body = TextAreaField(_l("Update in Polish (public)"), validators=[
        DataRequired(), Length(max=policy.TEXT_MAX)])
    body_en = _english(_l("Update in English (public)"))
    submit = SubmitField(_l("Post the update"))


# The incident page shows the update, resolve and window forms together: their fields get
# ids of their own, or two "body" and two "ended_at" ids would tie each label to the first.
class ResolveForm(FlaskForm):
    ended_at = _local_time(_l("Ended"), field_id="resolve-ended_at")
    body = TextAreaField(_l("Resolution in Polish (public)"), validators=[
        DataRequired(), Length(max=policy.TEXT_MAX)], id="resolve-body",
        description=_l("What was fixed, and that deadlines were extended by 24 h."))
    body_en = _english(_l("Resolution in English (public)"), id="resolve-body_en")
    submit = SubmitField(_l("Resolve the incident"))


class WindowForm(FlaskForm):
    started_at = _local_time(_l("Started"), field_id="window-started_at")
    ended_at = _local_time(_l("Ended"), required=False, field_id="window-ended_at",
                           description=_l("Warsaw time; empty while the incident is open."))
    submit = SubmitField(_l("Change the window"))


class ProblemReportForm(FlaskForm):
    what_happened = TextAreaField(_l("What happened?"), validators=[
        DataRequired(), Length(max=policy.TEXT_MAX)])
    happened_at = _local_time(_l("When did it happen?"))
    doing = TextAreaField(_l("What were you doing?"), validators=[
        DataRequired(), Length(max=policy.TEXT_MAX)],
        description=_l("For example: answering discussion #123, filing a claim."))
    screenshot = FileField(_l("Screenshot (optional)"),
                           description=_l("PNG, JPEG or PDF, at most 10 MB."))
    submit = SubmitField(_l("Send the report"))
