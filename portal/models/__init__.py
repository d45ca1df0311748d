"""Every model, imported so ``Base.metadata`` knows all tables."""

from .audit import AuditEntry, AuditHead
from .case import CATEGORIES, OUTCOMES, STATUSES, Case, CaseCategory, CaseItem, Keyholder
from .facility import DisclosureImport, Facility
from .finding import (
    ACTION_STATES,
    FINDING_ITEM_ROLES,
    ActionStateChange,
    CorrectiveAction,
    Finding,
    FindingCase,
    FindingItem,
)
from .forwarding import FORWARD_STATES, REMOTE_STATUSES, ExchangeBundle, Forward, Partner, ReceivedBundle
from .instance import Instance
from .kept_file import KeptFile
from .outbox import OutboxEmail
from .reminder import SentReminder
from .reply_template import ReplyTemplate
from .retaliation import (
    CLAIM_STATUSES,
    DISCIPLINE_KINDS,
    DISCIPLINE_STATES,
    ESCALATION_STEPS,
    MEASURE_KINDS,
    REMEDY_KINDS,
    REMEDY_STATES,
    RETALIATION_TYPES,
    RISK_LEVELS,
    DisciplinaryAction,
    EscalationStep,
    ProtectionMeasure,
    Remedy,
)
from .routing import Exclusion, RoutingAlert, RoutingRule, rule_recipients
from .sms import SmsConversation, SmsSeenWebhook
from .statistics_tally import (
    StatisticsAnswered,
    StatisticsCategory,
    StatisticsForward,
    StatisticsPlace,
    StatisticsWaiting,
)
from .throttle import Budget
from .translation_override import TranslationOverride
from .user import ROLES, RecoveryCode, User
from .web_session import WebSession

__all__ = [
    "ACTION_STATES",
    "FINDING_ITEM_ROLES",
    "ActionStateChange",
    "CorrectiveAction",
    "Finding",
    "FindingCase",
    "FindingItem",
    "FORWARD_STATES",
    "REMOTE_STATUSES",
    "ExchangeBundle",
    "Forward",
    "Partner",
    "ReceivedBundle",
    "CLAIM_STATUSES",
    "DISCIPLINE_KINDS",
    "DISCIPLINE_STATES",
    "ESCALATION_STEPS",
    "MEASURE_KINDS",
    "REMEDY_KINDS",
    "REMEDY_STATES",
    "RETALIATION_TYPES",
    "RISK_LEVELS",
    "AuditEntry",
    "AuditHead",
    "DisciplinaryAction",
    "DisclosureImport",
    "EscalationStep",
    "ProtectionMeasure",
    "Remedy",
    "ReplyTemplate",
    "Exclusion",
    "RoutingAlert",
    "RoutingRule",
    "rule_recipients",
    "OUTCOMES",
    "OutboxEmail",
    "SentReminder",
    "RecoveryCode",
    "CATEGORIES",
    "ROLES",
    "STATUSES",
    "Budget",
    "SmsConversation",
    "SmsSeenWebhook",
    "StatisticsAnswered",
    "StatisticsCategory",
    "StatisticsForward",
    "StatisticsPlace",
    "StatisticsWaiting",
    "Case",
    "CaseCategory",
    "CaseItem",
    "Facility",
    "Instance",
    "Keyholder",
    "User",
    "KeptFile",
    "WebSession",
    "TranslationOverride",
]
