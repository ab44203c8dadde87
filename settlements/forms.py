"""The follow-through forms of the discussion page: the buyer's and the seller's answers."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from settlements.services import NOTE_MAX, PROOF_MAX


class ConfirmForm(FlaskForm):
    submit = SubmitField(_l("I received it"))


class ReportFailedForm(FlaskForm):
    note = TextAreaField(_l("What happened? (optional)"), validators=[Length(max=NOTE_MAX)])
    submit = SubmitField(_l("It did not arrive"))


class ProofForm(FlaskForm):
    reference = StringField(
        _l("Transfer confirmation or tracking number"),
        validators=[DataRequired(), Length(max=PROOF_MAX)],
        description=_l("The buyer sees it and can contest it if nothing arrived."))
    submit = SubmitField(_l("Mark as done"))
