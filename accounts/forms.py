from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length
from wtforms.widgets import CheckboxInput, ListWidget

from accounts.passwords import MAX_LENGTH, MIN_LENGTH

_password_length = Length(
    min=MIN_LENGTH, max=MAX_LENGTH,
    message=_l("Between %(min)d and %(max)d characters.", min=MIN_LENGTH, max=MAX_LENGTH),
)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    submit = SubmitField(_l("Log in"))


class RegistrationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(
        _l("E-mail"), validators=[DataRequired(), Email(check_deliverability=False),
                                  Length(max=254)]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), _password_length])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    submit = SubmitField(_l("Create account"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"),
                                 validators=[DataRequired(), _password_length])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )
    submit = SubmitField(_l("Change password"))


class DeleteAccountForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(),
                                                             Length(max=MAX_LENGTH)])
    submit = SubmitField(_l("Delete my account"))


class SecondFactorForm(FlaskForm):
    """One field for the authenticator's six digits or a recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)],
                       description=_l("The 6-digit code your authenticator app shows now, or "
                                      "one of your recovery codes."),
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "off",
                                  "spellcheck": "false"})
    submit = SubmitField(_l("Continue"))


class EnrolmentForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=32)],
                       description=_l("The 6-digit code your authenticator app shows for "
                                      "Arbiter."),
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Turn on"))


class RegenerateRecoveryCodesForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=32)],
                       description=_l("New codes need the 6-digit code your authenticator app "
                                      "shows now; the old codes stop working."),
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Make new recovery codes"))


# --- staff management (accounts/staff_views.py) ------------------------------------------

def _role_choices():
    from accounts.roles import LABELS
    return [(role.value, label) for role, label in LABELS.items()]


class RoleCheckboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class InviteStaffForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(
        check_deliverability=False), Length(max=254)])
    roles = RoleCheckboxes(_l("Roles"), choices=_role_choices,
                           validators=[DataRequired(message=_l("Choose at least one role."))])
    submit = SubmitField(_l("Send the invitation"))


class StaffRolesForm(FlaskForm):
    roles = RoleCheckboxes(_l("Roles"), choices=_role_choices)
    submit = SubmitField(_l("Save roles"))


class AcceptInvitationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), _password_length])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    submit = SubmitField(_l("Join the staff"))


class HandOverForm(FlaskForm):
    """Hand a case to another staff member (disputes, claims, appeals staff pages)."""

    to = SelectField(_l("Hand over to"), coerce=int, validators=[DataRequired()])
    note = TextAreaField(_l("Note for the next handler"),
                         validators=[DataRequired(), Length(max=2000)],
                         description=_l("Seen by staff only."))
    submit = SubmitField(_l("Hand over"))
