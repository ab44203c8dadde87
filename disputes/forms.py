from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from arbiter.money import amount_example
from arbiter.validation import TextLength, page_locale
from disputes import policy
from disputes.states import (
    OFFER_LABELS,
    OUTCOME_LABELS,
    PARTY_LABELS,
    REASON_LABELS,
    VERDICT_LABELS,
)

FILES_HELP = _l("PDF, PNG, JPEG or HEIC (stored as JPEG); at most 5 files of 10 MB each.")


def _choices(labels):
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class OpenDiscussionForm(FlaskForm):
    reason = SelectField(_l("What is the problem?"), choices=_choices(REASON_LABELS),
                         validators=[DataRequired()])
    expected_outcome = SelectField(_l("What do you expect?"),
                                   choices=_choices(OUTCOME_LABELS),
                                   validators=[DataRequired()])
    description = TextAreaField(_l("Describe the problem"), validators=[
        DataRequired(), Length(min=1, max=policy.DESCRIPTION_MAX)])
    files = MultipleFileField(_l("Evidence (optional)"), description=FILES_HELP)
    submit = SubmitField(_l("Report the problem"))


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Your message"), validators=[
        DataRequired(), Length(max=policy.DESCRIPTION_MAX)])
    files = MultipleFileField(_l("Evidence (optional)"), description=FILES_HELP)
    submit = SubmitField(_l("Send"))


class OfferForm(FlaskForm):
    kind = SelectField(_l("Offer"), choices=_choices(OFFER_LABELS),
                       validators=[DataRequired()])
    amount = StringField(_l("Amount for a partial refund (PLN)"),
                         validators=[Optional(), Length(max=20)])
    note = TextAreaField(_l("Note to the buyer (optional)"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Make the offer"))


class EscalateForm(FlaskForm):
    reason = TextAreaField(_l("Why do you need the platform's help?"), validators=[
        DataRequired(), Length(max=5000)])
    submit = SubmitField(_l("Ask the platform for help"))


class InformationRequestForm(FlaskForm):
    party = RadioField(_l("Ask"), choices=_choices(PARTY_LABELS),
                       validators=[DataRequired()])
    question = TextAreaField(_l("Question"), validators=[DataRequired(), Length(max=5000)])
    submit = SubmitField(_l("Request information (72 h)"))


class DecisionForm(FlaskForm):
    verdict = RadioField(_l("Verdict"), choices=_choices(VERDICT_LABELS),
                         validators=[DataRequired()])
    amount = StringField(_l("Refund amount (PLN)"), validators=[Optional(), Length(max=20)],
                         description=LazyString(lambda: gettext(
                             "Buyer's favour: defaults to the order total. Partial: between "
                             "%(least)s and the order total.",
                             least=amount_example(page_locale(), 1))))
    rationale = TextAreaField(_l("Rationale"), validators=[
        DataRequired(), TextLength(min=policy.RATIONALE_MIN, max=policy.DESCRIPTION_MAX)])
    # A verdict that moves money is confirmed on a page stating it first (issue 20).
    confirmed = HiddenField()
    confirm_amount = HiddenField()
    submit = SubmitField(_l("Issue the final verdict"))
