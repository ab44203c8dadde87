from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    MultipleFileField,
    RadioField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from appeals.models import RATIONALE_MIN, STATEMENT_MAX, STATEMENT_MIN
from appeals.services import FILES_PER_UPLOAD
from appeals.states import OUTCOME_LABELS
from arbiter.validation import TextLength

FILES_HELP = _l("PDF, PNG, JPEG or HEIC (stored as JPEG); at most %(num)d files of 10 MB "
                "each.", num=FILES_PER_UPLOAD)


def statement_help() -> str:
    """The count rule in the reader's notation ("20 000" in Polish, "20,000" in English)."""
    return _("Between %(min)s and %(max)s characters. You can write it once.",
             min=format_number(STATEMENT_MIN), max=format_number(STATEMENT_MAX))


def _choices(labels):
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class AppealForm(FlaskForm):
    statement = TextAreaField(
        _l("Why the decision should change"),
        validators=[DataRequired(), Length(min=STATEMENT_MIN, max=STATEMENT_MAX)],
    )
    files = MultipleFileField(_l("New evidence (optional)"), description=FILES_HELP)
    submit = SubmitField(_l("Send the appeal"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.statement.description = statement_help()


class AnswerForm(FlaskForm):
    statement = TextAreaField(
        _l("Your statement on the appeal"),
        validators=[DataRequired(), Length(min=STATEMENT_MIN, max=STATEMENT_MAX)],
    )
    files = MultipleFileField(_l("Evidence (optional)"), description=FILES_HELP)
    submit = SubmitField(_l("Send the statement"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.statement.description = statement_help()


class MarkReadForm(FlaskForm):
    item = HiddenField(validators=[DataRequired(), Length(max=64)])


class DecisionForm(FlaskForm):
    outcome = RadioField(_l("Outcome"), choices=_choices(OUTCOME_LABELS),
                         validators=[DataRequired()])
    amount = StringField(
        _l("New amount for the buyer (PLN)"), validators=[Optional(), Length(max=20)],
        description=_l("For a varied decision, or an overturned one that granted the buyer "
                       "nothing. Leave it empty to uphold, or to overturn a decision that "
                       "granted something (the buyer then gets nothing)."))
    rationale = TextAreaField(
        _l("Rationale"), validators=[DataRequired(), TextLength(min=RATIONALE_MIN, max=20_000)],
        description=_l("At least %(num)d characters; answer the points of the appeal.",
                       num=RATIONALE_MIN))
    # A decision that changes an amount is confirmed on a page stating it first (issue 20).
    confirmed = HiddenField()
    confirm_amount = HiddenField()
    submit = SubmitField(_l("Issue the appeal decision"))
