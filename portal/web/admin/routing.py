"""Administrators: the ordered routing rules, conflicts of interest, trying the
rules on a sample report, and the cases only the recovery key can open."""

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ... import i18n
from ...models import CATEGORIES, Exclusion, Facility, RoutingRule, User
from ...services import conflicts, keyring, routing
from ..common.access import administrator_only
from ..common.database import db
from ..common.fields import ConfirmForm
from ..common.labels import CATEGORY_LABELS, RECIPIENT_CHOICES
from .forms import ANY, ExclusionForm, RuleForm, TryForm

RULE_ERRORS = {
    "facility": lambda: _("This facility is not in the registry any more."),
    "never_matches": lambda: _("This rule can never match: the facility, supplier and country contradict each "
                               "other."),
    "supplier": lambda: _("No facility in the registry has this supplier."),
    "category": lambda: _("Choose a category from the list."),
    "language": lambda: _("Choose a language from the list."),
    "no_recipients": lambda: _("A rule must name at least one person who receives the case."),
    "recipient": lambda: _("A person named in this rule has no active account or key."),
    "recipient_role": lambda: _("Only investigators, retaliation officers and administrators can receive cases "
                                "by a rule."),
    "rule": lambda: _("This rule cannot be saved."),
}

def add_routes(bp, config):
    def _choice_lists():
        facilities = db().scalars(select(Facility).where(Facility.active.is_(True)).order_by(Facility.name)).all()
        suppliers = sorted({f.supplier for f in facilities})
        countries = sorted({f.country for f in facilities})
        contractor_users = db().scalars(select(User).where(User.role.in_(routing.CONTRACTOR_ROLES))
                                        .order_by(User.display_name)).all()
        return {
            "facility": [ANY] + [SelectChoice(str(f.id), f"{f.name} ({f.country})") for f in facilities],
            "supplier": [ANY] + [SelectChoice(s, s) for s in suppliers],
            "country": [ANY] + [SelectChoice(c, c) for c in countries],
            "category": [ANY] + [SelectChoice(c, str(CATEGORY_LABELS[c])) for c in CATEGORIES],
            "language": [ANY] + [SelectChoice(code, i18n.NATIVE_NAMES.get(code, code))
                                 for code in config["LANGUAGES"]],
            "users": [SelectChoice(u.id, u.display_name) for u in contractor_users],
        }

    def _with_choices(form, lists):
        """Fill the choices of a routing page form from the registry and the users."""
        if isinstance(form, RuleForm):
            for name in ("facility", "supplier", "country", "category", "language"):
                getattr(form, name).choices = lists[name]
            form.recipients.choices = lists["users"]
        elif isinstance(form, TryForm):
            form.facility.choices = lists["facility"]
            form.categories.choices = lists["category"][1:]
            form.language.choices = lists["language"][1:]
            form.recipient_choice.choices = list(RECIPIENT_CHOICES)
            form.excluded.choices = lists["users"]
        else:
            form.user.choices = lists["users"]
            form.facility.choices = lists["facility"]
            form.supplier.choices = lists["supplier"]
        return form

    def _routing_page(rule_form=None, try_form=None, exclusion_form=None, verdict=None, error=None, status=200):
        lists = _choice_lists()
        rule_form = _with_choices(rule_form or RuleForm(), lists)
        try_form = _with_choices(try_form or TryForm(), lists)
        exclusion_form = _with_choices(exclusion_form or ExclusionForm(), lists)
        names = {f.id: f.name for f in db().scalars(select(Facility))}
        exclusions = db().scalars(select(Exclusion).order_by(Exclusion.id)).all()
        users_by_id = {u.id: u for u in db().scalars(select(User))}
        return render_template(
            "admin/routing.html", rules=routing.ordered_rules(db()), rule_form=rule_form, try_form=try_form,
            exclusion_form=exclusion_form, verdict=verdict, error=error, facility_names=names,
            exclusions=exclusions, users_by_id=users_by_id, recovery_only=keyring.recovery_only_cases(db()),
            small_form=ConfirmForm(),
        ), status

    @bp.get("/routing")
    @administrator_only
    def routing_page():
        editing = db().get(RoutingRule, request.args.get("edit", type=int) or 0)
        if editing is None:
            return _routing_page()
        form = RuleForm(formdata=None, data={
            "rule_id": str(editing.id), "name": editing.name,
            "facility": str(editing.facility_id or ""), "supplier": editing.supplier or "",
            "country": editing.country or "", "category": editing.category or "",
            "language": editing.language or "",
            "urgent": {True: "yes", False: "no"}.get(editing.urgent, ""),
            "recipients": [u.id for u in editing.recipients],
        })
        return _routing_page(rule_form=form)

    @bp.post("/routing/rules")
    @administrator_only
    def save_rule():
        form = _with_choices(RuleForm(), _choice_lists())
        if not form.validate_on_submit():
            return _routing_page(rule_form=form, error=_("Please check the rule."), status=400)
        try:
            routing.save_rule(
                db(), g.user, name=form.name.data, recipient_ids=form.recipients.data or [],
                rule_id=int(form.rule_id.data) if (form.rule_id.data or "").isdigit() else None,
                languages=config["LANGUAGES"],
                facility_id=int(form.facility.data) if form.facility.data else None,
                supplier=form.supplier.data or None, country=form.country.data or None,
                category=form.category.data or None, language=form.language.data or None,
                urgent={"yes": True, "no": False}.get(form.urgent.data),
            )
        except routing.RoutingError as error:
            return _routing_page(rule_form=form, error=RULE_ERRORS.get(error.reason, RULE_ERRORS["rule"])(),
                                 status=400)
        return redirect(url_for("admin.routing_page"), 303)

    @bp.post("/routing/rules/<int:rule_id>/<any(up, down, delete):action>")
    @administrator_only
    def change_rule(rule_id, action):
        if not ConfirmForm().validate_on_submit():
            return _routing_page(error=_("This form expired. Please try again."), status=400)
        try:
            if action == "delete":
                routing.delete_rule(db(), g.user, rule_id)
            else:
                routing.move_rule(db(), g.user, rule_id, -1 if action == "up" else 1)
        except routing.RoutingError:
            abort(404)
        return redirect(url_for("admin.routing_page"), 303)

    @bp.post("/routing/try")
    @administrator_only
    def try_rules():
        form = _with_choices(TryForm(), _choice_lists())
        if not form.validate_on_submit() or not form.categories.data:
            return _routing_page(try_form=form, error=_("Choose at least one category to try."), status=400)
        decision = routing.decide(db(), routing.Sample(
            categories=form.categories.data, language=form.language.data, urgent=form.urgent.data,
            facility_id=int(form.facility.data) if form.facility.data else None,
            recipient_choice=form.recipient_choice.data, excluded_user_ids=form.excluded.data or []))
        return _routing_page(try_form=form, verdict=decision)

    @bp.post("/routing/exclusions")
    @administrator_only
    def add_exclusion():
        form = _with_choices(ExclusionForm(), _choice_lists())
        if not form.validate_on_submit():
            return _routing_page(exclusion_form=form, error=_("Please check the fields."), status=400)
        try:
            exclusion = conflicts.declare(db(), g.user, form.user.data,
                                          facility_id=int(form.facility.data) if form.facility.data else None,
                                          supplier=form.supplier.data or None)
        except routing.RoutingError:
            return _routing_page(exclusion_form=form, error=_(
                "Choose either a facility or a supplier for the conflict of interest."), status=400)
        return redirect(url_for("admin.exclusion_page", exclusion_id=exclusion.id), 303)

    @bp.get("/routing/exclusions/<int:exclusion_id>")
    @administrator_only
    def exclusion_page(exclusion_id):
        """The conflict of interest as declared, and the cases its user already held."""
        exclusion = db().get(Exclusion, exclusion_id)
        if exclusion is None:
            abort(404)
        return render_template("admin/conflict.html", exclusion=exclusion, user=db().get(User, exclusion.user_id),
                               facility=db().get(Facility, exclusion.facility_id) if exclusion.facility_id else None,
                               held=conflicts.held_cases(db(), exclusion))

    @bp.post("/routing/exclusions/<int:exclusion_id>/delete")
    @administrator_only
    def delete_exclusion(exclusion_id):
        exclusion = db().get(Exclusion, exclusion_id)
        if exclusion is None:
            abort(404)
        if not ConfirmForm().validate_on_submit():
            return _routing_page(error=_("This form expired. Please try again."), status=400)
        conflicts.withdraw(db(), g.user, exclusion)
        return redirect(url_for("admin.routing_page") + "#exclusions", 303)
