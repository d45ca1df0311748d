"""Administrators read the audit trail: who did what, to which case, when."""

from ..common.access import administrator_only
from ..common.audit_trail import audit_page


def add_routes(bp, config):
    @bp.get("/audit")
    @administrator_only
    def audit_trail():
        return audit_page("admin/audit.html", "admin.audit_trail")
