"""The bare Flask baseline of bench/reporter_bench.py: a small Flask-WTF form.

    gunicorn -c deploy/gunicorn.conf.py --chdir bench bare_app:app

GET /form renders a small form with a CSRF token (Flask's signed-cookie
session); POST /form validates it with Flask-WTF and answers a few bytes.
Every worker must share the signing key: the bench passes BARE_SECRET_KEY.
"""

import os

from flask import Flask, render_template
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

TEMPLATES = {
    "form.html": """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Form</title></head>
<body>
<form method="post" enctype="multipart/form-data" action="{{ url_for('form') }}">
  {{ form.csrf_token }}
  <p>{{ form.name.label }} {{ form.name(maxlength=200) }}</p>
  <p>{{ form.description.label }} {{ form.description(rows=8, required=True) }}</p>
  <fieldset><legend>{{ form.choice.label.text }}</legend>{{ form.choice() }}</fieldset>
  <p><button type="submit">Send</button></p>
</form>
</body>
</html>
""",
}


class SmallForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    description = TextAreaField("What happened?", validators=[InputRequired(), Length(max=20000)])
    choice = RadioField("Still happening?", choices=[("yes", "Yes"), ("no", "No")], default="no")


app = Flask(__name__)
app.secret_key = os.environ.get("BARE_SECRET_KEY", "bare-app-benchmark-key")
app.jinja_loader = DictLoader(TEMPLATES)


@app.route("/form", methods=["GET", "POST"])
def form():
    small = SmallForm()
    if small.validate_on_submit():
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    if small.is_submitted():
        return "invalid\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("form.html", form=small)
