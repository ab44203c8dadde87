from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from signals.policy import NOTE_MAX


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note for staff"), validators=[DataRequired(), Length(max=NOTE_MAX)],
                         description=_l("What you checked and what you concluded. Notes are "
                                        "kept for good: a correction is a new note."))
    submit = SubmitField(_l("Add the note"))
