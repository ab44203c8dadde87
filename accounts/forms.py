from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

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
