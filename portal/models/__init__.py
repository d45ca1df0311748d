"""Every model, imported so ``Base.metadata`` knows all tables."""

from .case import CATEGORIES, STATUSES, Case, CaseCategory, CaseItem, Keyholder
from .facility import Facility
from .instance import Instance
from .throttle import Budget
from .user import ROLES, User
from .web_session import WebSession

__all__ = [
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
