"""The web layer: one package per audience over the plumbing they share.

    reporter/   workers: report, receipt, follow-up, retaliation claims
    inbox/      keyholders: accounts, cases, claims, forwarding
    admin/      administrators: users, routing, settings, registry, partners
    oversight/  the contracting authority: escalation record, statistics
    api/        other instances of the portal
    common/     what two audiences share; it imports none of them

Only this module imports every audience: it puts them together into the app.
"""

from sqlalchemy.exc import SQLAlchemyError

from .. import i18n, resources
from ..services import translation_overrides
from . import admin, api, inbox, oversight, reporter
from .common import bidi, compression, database, errors, layout, security, sessions, uploads, urls
from .common.staff import staff_blueprint


def init_app(app, session_factory) -> None:
    config = app.config
    app.request_class = uploads.InMemoryUploadRequest
    app.session_interface = sessions.ServerSessionInterface(session_factory)
    i18n.init_app(app, str(resources.folder("translations")), lambda: layout.language(config), _overrides)
    app.teardown_appcontext(database.close)
    # Flask runs these in the reverse order: compression last, on the finished body.
    app.after_request(compression.compress)
    app.add_template_filter(bidi.isolated, "isolated")
    app.after_request(security.add_headers)
    # Before any route is added: rules bind their converters when they are added.
    app.url_map.converters["int"] = urls.RowIdConverter
    app.register_blueprint(reporter.make_blueprint(config))
    app.register_blueprint(inbox.make_blueprint(config))
    app.register_blueprint(admin.make_blueprint(config))
    app.register_blueprint(admin.registry.make_blueprint(config))
    app.register_blueprint(inbox.claims.make_blueprint(config))
    app.register_blueprint(oversight.make_blueprint(config))
    app.register_blueprint(oversight.public.make_blueprint(config))
    app.register_blueprint(api.make_blueprint(config))
    app.register_blueprint(api.sms.make_blueprint(config))
    # Forwarding's endpoints (``forwards.*``) serve two audiences: keyholders and monitors under
    # /inbox, administrators registering partners under /admin. One namespace, routes from each.
    forwards = staff_blueprint("forwards")
    inbox.forwards.add_routes(forwards, config)
    admin.partners.add_routes(forwards, config)
    app.register_blueprint(forwards)
    errors.register(app)


def _overrides():
    """The administrators' own words in force, read once per page (one number unless they changed)."""
    try:
        return translation_overrides.in_force(database.db())
    except SQLAlchemyError:
        # A page about a database fault is shown in the catalogue's words; the request's session,
        # failed, is not used again for them.
        database.close()
        return None
