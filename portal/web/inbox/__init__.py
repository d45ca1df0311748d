"""The secure inbox as keyholders see it: their accounts, their cases, a search
over them (``search``), the claims they hold (``claims``), and forwarding (``forwards``)."""

from ..common.staff import staff_blueprint
from . import account, assisted, cases, claims, exports, findings, forwards, search


def make_blueprint(config):
    bp = staff_blueprint("inbox", url_prefix="/inbox")
    account.add_routes(bp, config)
    assisted.add_routes(bp, config)
    cases.add_routes(bp, config)
    findings.add_routes(bp, config)
    exports.add_routes(bp, config)
    search.add_routes(bp, config)
    return bp


__all__ = ["make_blueprint", "claims", "forwards"]
