"""The audit trail as a page, shared by the administrators' page (the whole
trail) and the contracting authority's view (the entries of the cases it may
see): the filter, the search, the table and its pages."""

import json

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from ...models import User
from ...services import audit, cases
from .database import db
from .fields import PortalForm
from .labels import AUDIT_ACTION_LABELS

PAGE_SIZE = 100


class AuditFilterForm(PortalForm):
    actor = SelectField(_l("Who"), validators=[Optional()])
    case = StringField(_l("Case reference (e.g. 2026-00042)"), validators=[Optional(), Length(max=20)])
    action = SelectField(_l("What"), validators=[Optional()])
    since = DateField(_l("Since"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])


def audit_page(template: str, endpoint: str, case_ids: set[int] | None = None, **context):
    """The trail filtered by the request's arguments, as ``template`` shows it.

    ``case_ids``: only the entries of these cases, and only their actors to choose
    from; a reference outside them is answered as one that does not exist.
    None: the whole trail and everyone.
    """
    people_query = select(User).order_by(User.display_name)
    if case_ids is not None:
        people_query = people_query.where(User.id.in_(sorted(audit.actors_of(db(), case_ids))))
    people = db().scalars(people_query).all()
    form = AuditFilterForm(request.args, meta={"csrf": False})
    form.actor.choices = [("", "—")] + [(str(u.id), u.display_name) for u in people]
    form.action.choices = [("", "—")] + [(code, label) for code, label in AUDIT_ACTION_LABELS.items()]
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(400)
    error, entries, total = None, [], 0
    if form.validate():
        case = cases.by_reference(db(), form.case.data) if form.case.data else None
        if case is not None and case_ids is not None and case.id not in case_ids:
            case = None
        if form.case.data and case is None:
            error = _("No case has this reference.")
        else:
            query = audit.Query(actor_id=int(form.actor.data) if form.actor.data else None,
                                case_id=case.id if case else None, action=form.action.data or None,
                                since=form.since.data, until=form.until.data,
                                case_ids=frozenset(case_ids) if case_ids is not None else None)
            entries, total = audit.search(db(), query, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    else:
        error = " ".join(str(m) for messages in form.errors.values() for m in messages)
    names = {u.id: u.display_name for u in people}
    references = cases.references_of(db(), {e.case_id for e in entries if e.case_id})
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    return render_template(
        template, form=form, entries=entries, total=total, names=names, references=references,
        labels=AUDIT_ACTION_LABELS, details={e.id: _readable(e.detail) for e in entries}, error=error,
        page=page, pages=pages, endpoint=endpoint, **context,
    ), (400 if error else 200)


def _readable(detail: str) -> str:
    """The entry's codes, ids and names as ``key: value`` pairs, what was before ahead of what is after."""
    try:
        values = json.loads(detail or "{}")
    except ValueError:
        return detail
    first = [key for key in ("name", "before", "after") if key in values]
    keys = first + sorted(key for key in values if key not in first)
    text = ", ".join(f"{key}: {json.dumps(values[key], ensure_ascii=False)}" for key in keys)
    if values.get("new_readers") and not values.get("told"):
        text += " — " + _("Nobody else could be told: no other active administrator has an e-mail address.")
    return text
