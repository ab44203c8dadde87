from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FileField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from arbiter.money import amount_example
from arbiter.validation import TextLength, page_locale
from claims import policy
from claims.states import (
    CLAIM_TYPE_LABELS,
    DECISION_LABELS,
    FILING_DOCUMENT_KINDS,
    FILING_DOCUMENT_LABELS,
    REJECTION_REASON_LABELS,
    ClaimType,
)
from orders.states import PAYMENT_METHOD_LABELS

FILES_HELP = _l("PDF, PNG, JPEG or HEIC (stored as JPEG); at most 5 files of 10 MB each.")


def _choices(labels):
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes (none checked is a valid answer)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class FileClaimForm(FlaskForm):
    claim_type = SelectField(_l("What happened?"), choices=_choices(CLAIM_TYPE_LABELS),
                             validators=[DataRequired()])
    description = TextAreaField(_l("Describe what happened"), validators=[
        DataRequired(), Length(min=1, max=policy.DESCRIPTION_MAX)])
    claimed_amount = StringField(
        _l("Documented loss you claim (PLN)"), validators=[Optional(), Length(max=20)],
        description=LazyString(lambda: gettext(
            "Only for other problems: at most the item price, e.g. %(example)s.",
            example=amount_example(page_locale()))))
    police_report_reference = StringField(
        _l("Police report reference number"),
        validators=[Optional(), Length(max=policy.POLICE_REPORT_REFERENCE_MAX)],
        description=_l("Required for the kinds of problem whose documents above name it."))
    police_report = FileField(
        _l("Police acknowledgement"),
        description=_l("Required with the reference number: PDF, PNG, JPEG or HEIC, at most "
                       "10 MB."))
    documents = MultipleFileField(
        _l("Supporting documents"),
        description=LazyString(lambda: " ".join((
            gettext("Required for the kinds of problem whose documents above name them; "
                    "otherwise optional."), str(FILES_HELP)))))
    payout_account = StringField(
        _l("Account for the payout (IBAN)"), validators=[DataRequired(), Length(max=64)],
        description=_l("If the claim is approved, the platform pays to this account."))
    submit = SubmitField(_l("File the claim"))


class DocumentsForm(FlaskForm):
    files = MultipleFileField(_l("Add documents"), description=FILES_HELP)
    submit = SubmitField(_l("Upload"))


class DocumentRequestForm(FlaskForm):
    what = TextAreaField(_l("Which documents do you need?"), validators=[
        DataRequired(), Length(max=5000)])
    submit = SubmitField(_l("Request documents (7 days)"))


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=_choices(DECISION_LABELS),
                          validators=[DataRequired()])
    amount = StringField(_l("Amount for a partial approval (PLN)"),
                         validators=[Optional(), Length(max=20)],
                         description=_l("Less than the claim's maximum."))
    rejection_reason = SelectField(
        _l("Reason for a rejection"),
        choices=[SelectChoice("", "—"), *_choices(REJECTION_REASON_LABELS)],
        validators=[Optional()])
    rationale = TextAreaField(
        _l("Rationale"), validators=[TextLength(max=policy.DESCRIPTION_MAX)],
        description=_l("At least 30 characters for a partial approval or a rejection."))
    # The confirmation step of an approval (claims.views.decide): empty on the first post,
    # which shows what will be paid and to whom; the second carries what was confirmed.
    confirmed = HiddenField()
    confirm_amount = HiddenField()
    submit = SubmitField(_l("Issue the decision"))


class SecondApprovalForm(FlaskForm):
    confirm_amount = HiddenField(validators=[DataRequired()])
    submit = SubmitField(_l("Confirm the approval"))


class SendBackForm(FlaskForm):
    reason = TextAreaField(
        _l("Why are you sending it back?"), validators=[DataRequired(), Length(min=10, max=5000)],
        description=_l("The first approver and other staff see this; the buyer does not."))
    submit = SubmitField(_l("Send back to review"))


class SellerAnswerForm(FlaskForm):
    statement = TextAreaField(_l("Your answer to the claim"), validators=[
        DataRequired(), Length(min=1, max=policy.DESCRIPTION_MAX)],
        description=_l("What happened from your side: shipping, tracking, what you agreed "
                       "with the buyer. You can answer once."))
    files = MultipleFileField(_l("Evidence (optional)"), description=FILES_HELP)
    submit = SubmitField(_l("Send the answer"))


class PayoutAccountForm(FlaskForm):
    """A corrected bank account for a payout the bank returned (checked like the claim's)."""

    payout_account = StringField(
        _l("Bank account for the payout (IBAN)"), validators=[DataRequired(), Length(max=64)],
        description=_l("For example PL61 1090 1014 0000 0712 1981 2874."))
    submit = SubmitField(_l("Send the payout to this account"))


class PolicyDraftForm(FlaskForm):
    """A new version of the protection rules, as an admin drafts it."""

    code = StringField(_l("Version code"), validators=[
        DataRequired(), Regexp(r"^[0-9A-Za-z._-]{1,16}$", message=_l(
            "At most 16 letters, digits, dots, dashes or underscores."))],
        description=_l("What decisions will cite, e.g. 2027-01."))
    effective_on = DateField(
        _l("In force for orders paid from"), validators=[DataRequired()],
        description=_l("From midnight, Warsaw time, of this day; a day in the future."))
    covered_payment_methods = MultiCheckboxField(_l("Covered payment methods"),
                                                 choices=_choices(PAYMENT_METHOD_LABELS))
    shipping_covered_for = MultiCheckboxField(_l("Shipping reimbursed for"),
                                              choices=_choices(PAYMENT_METHOD_LABELS))
    shipping_cap = StringField(_l("Shipping cap (PLN)"), validators=[Length(max=20)],
                               description=_l("Leave empty when no shipping is reimbursed."))
    total_cap = StringField(_l("Cap per claim, item and shipping together (PLN)"),
                            validators=[DataRequired(), Length(max=20)])
    # Upper bounds keep the numbers in their columns (a longer window is not a policy).
    filing_window_days = IntegerField(
        _l("Filing window (days after payment)"),
        validators=[InputRequired(), NumberRange(max=policy.FILING_WINDOW_DAYS_MAX)])
    per_buyer_cap = StringField(_l("Per-buyer cap (PLN, optional)"),
                                validators=[Optional(), Length(max=20)])
    per_buyer_window_days = IntegerField(
        _l("Over the last (days, optional)"),
        validators=[Optional(), NumberRange(max=policy.FILING_WINDOW_DAYS_MAX)])
    seller_answer_hours = IntegerField(
        _l("The seller may answer a claim within (hours after filing)"),
        validators=[InputRequired(), NumberRange(max=policy.SELLER_ANSWER_HOURS_MAX)])
    appeal_window_days = IntegerField(
        _l("A claim decision may be appealed within (days after the decision)"),
        validators=[InputRequired(), NumberRange(max=policy.APPEAL_WINDOW_DAYS_MAX)])
    submit = SubmitField(_l("Save the draft"))

    @staticmethod
    def documents_field(claim_type: ClaimType) -> str:
        """The name of the checkboxes of the documents a claim of this type must bring."""
        return f"documents_{claim_type.value}"

    def documents_fields(self) -> list:
        return [self[self.documents_field(claim_type)] for claim_type in ClaimType]


# One group of checkboxes per claim type: the documents a claim of that type must bring.
for _claim_type in ClaimType:
    setattr(PolicyDraftForm, PolicyDraftForm.documents_field(_claim_type), MultiCheckboxField(
        CLAIM_TYPE_LABELS[_claim_type],
        choices=[SelectChoice(kind.value, FILING_DOCUMENT_LABELS[kind])
                 for kind in FILING_DOCUMENT_KINDS]))
del _claim_type
