"""Administrators read the audit trail: who did what, to which case, when."""

import json

from flask import abort, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from ...models import User
from ...services import audit, cases
from ..common.access import administrator_only
from ..common.database import db
from .forms import AUDIT_ACTION_LABELS, AuditFilterForm

PAGE_SIZE = 100


def add_routes(bp, config):
    @bp.get("/audit")
    @administrator_only
    def audit_trail():
        people = db().scalars(select(User).order_by(User.display_name)).all()
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
            if form.case.data and case is None:
                error = _("No case has this reference.")
            else:
                query = audit.Query(actor_id=int(form.actor.data) if form.actor.data else None,
                                    case_id=case.id if case else None, action=form.action.data or None,
                                    since=form.since.data, until=form.until.data)
                entries, total = audit.search(db(), query, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        else:
            error = " ".join(str(m) for messages in form.errors.values() for m in messages)
        names = {u.id: u.display_name for u in people}
        references = cases.references_of(db(), {e.case_id for e in entries if e.case_id})
        pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
        return render_template(
            "admin/audit.html", form=form, entries=entries, total=total, names=names, references=references,
            labels=AUDIT_ACTION_LABELS, details={e.id: _readable(e.detail) for e in entries}, error=error,
            page=page, pages=pages,
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
