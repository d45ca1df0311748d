"""Every model, imported so ``Base.metadata`` knows all tables."""

from .audit import AuditEntry, AuditHead
from .case import CATEGORIES, OUTCOMES, STATUSES, Case, CaseCategory, CaseItem, Keyholder
from .facility import Facility
from .instance import Instance
from .outbox import OutboxEmail
from .throttle import Budget
from .user import ROLES, RecoveryCode, User
from .web_session import WebSession

__all__ = [
    "AuditEntry",
    "AuditHead",
    "OUTCOMES",
    "OutboxEmail",
    "RecoveryCode",
    "CATEGORIES",
    "ROLES",
    "STATUSES",
    "Budget",
    "Case",
    "CaseCategory",
    "CaseItem",
    "Facility",
    "Instance",
    "Keyholder",
    "User",
    "WebSession",
]
