"""The administrators' pages: accounts, routing, settings, posters, translations, the audit trail
(the ``admin`` blueprint), the facility registry (``registry``) and partners (on the
``forwards`` blueprint, beside forwarding's inbox routes)."""

from ..common.staff import staff_blueprint
from . import audit, partners, posters, registry, reply_templates, routing, settings, translations, users


def make_blueprint(config):
    bp = staff_blueprint("admin", url_prefix="/admin")
    users.add_routes(bp, config)
    routing.add_routes(bp, config)
    settings.add_routes(bp, config)
    audit.add_routes(bp, config)
    reply_templates.add_routes(bp, config)
    posters.add_routes(bp, config)
    translations.add_routes(bp, config)
    return bp


__all__ = ["make_blueprint", "partners", "registry"]
