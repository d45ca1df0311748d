"""Who can open a case: its keyholders, the recovery key, and the reporter.

Two kinds of items follow other rules. What the keyholders write for each
other (notes, protection measures, who is disciplined) is never the
reporter's. The escalation record of a case is kept by the administrators for
the contracting authority: it is encrypted to those two roles, not to the
keyholders, and hand-overs of the case leave it alone.
"""

from sqlalchemy import select

from ..models import Case, Forward, Keyholder, Partner, User
from . import conflicts, outbound, partners
from . import instance as instance_service

# Findings' own texts, corrective actions, their evidence and the monitor's verdicts are the
# keyholders': the worker reads only the summary written for them ("finding_worker"). What the
# keyholders and a partner exchange about a case (services/exchange.py) is not the reporter's either,
# nor "contact_sms", the worker's phone number, kept for the staff who text them (docs/sms.md).
NOT_FOR_REPORTER = ("note", "measure", "discipline", "finding", "corrective_action", "action_evidence",
                    "action_verdict", "exchange", "exchange_file", "contact_sms")
OVERSIGHT_KINDS = ("escalation", "escalation_file")
OVERSIGHT_ROLES = ("administrator", "authority")
POST_QUANTUM_PREFIX = "age1pq1"


def recipients_for(session, holders: list[User], reporter_recipient=None, custodians=None) -> list:
    """The keyholders, the custodians (by default the organisation's recovery key) and
    (unless None) the reporter."""
    recipients = [user.recipient for user in holders if user.recipient]
    recipients += custodians if custodians is not None else [instance_service.load(session).recovery_recipient]
    if reporter_recipient is not None:
        recipients.append(reporter_recipient)
    return recipients


def holders_of(session, case: Case) -> list[User]:
    return list(session.scalars(
        select(User).join(Keyholder, Keyholder.user_id == User.id).where(Keyholder.case_id == case.id)
    ))


def custodians_for(session, partner: Partner | None = None, settings=None) -> list:
    """Who keeps a case open when its keyholders cannot: the organisation's recovery key or,
    for a report the worker sent to Electronics Watch only, what the partner publishes
    (its monitor users and its own recovery key), so the contractor holds no key to it;
    the worker, with their receipt, keeps it too. ``settings``: the instance's, if already read."""
    instance = settings or instance_service.load(session)
    if partner is not None:
        # Only keys of this instance's kind: age does not mix post-quantum and classic
        # recipients in one file. The partner has its own copy in the forward anyway.
        return [r for r in partners.monitor_recipients(partner)
                if r.startswith(POST_QUANTUM_PREFIX) == bool(instance.post_quantum)]
    return [instance.recovery_recipient]


def custodians_of(session, case: Case) -> list:
    partner = None
    if case.kind in ("report", "retaliation") and case.recipient_choice == "monitor":
        # The forward made when the report or claim arrived (by no one) names the partner that keeps it.
        arrival = outbound.arrival_forward(session, case)
        partner = session.get(Partner, arrival.partner_id) if arrival is not None else None
    return custodians_for(session, partner)


def case_recipients(session, case: Case, *, reporter: bool = True) -> list:
    """Every recipient an item of ``case`` must be encrypted to; notes leave out the reporter."""
    # A case forwarded by a partner has no reporter key here ("").
    return recipients_for(session, holders_of(session, case), (case.reporter_recipient or None) if reporter else None,
                          custodians_of(session, case))


def item_recipients(session, case: Case, kind: str, holders: list[User]) -> list:
    """The recipients of one keyholders' item of ``case`` given its keyholders."""
    return recipients_for(session, holders, None if kind in NOT_FOR_REPORTER else case.reporter_recipient or None,
                          custodians_of(session, case))


def recovery_only_cases(session) -> list[Case]:
    """Cases no active person here can open, other than reports sent to Electronics Watch
    only (their partner holds them): only the recovery key can open these. A holder whom
    a conflict of interest bars from the case does not count as able to open it."""
    readable_by_someone = (select(Keyholder.id).join(User, User.id == Keyholder.user_id)
                           .where(Keyholder.case_id == Case.id, User.active.is_(True), User.recipient.is_not(None),
                                  User.activation_digest.is_(None), ~conflicts.holder_conflicted()).exists())
    held_by_partner = (select(Forward.id).where(Forward.case_id == Case.id, Forward.created_by.is_(None)).exists()
                       & (Case.recipient_choice == "monitor"))
    return list(session.scalars(select(Case).where(~readable_by_someone, ~held_by_partner).order_by(Case.id)))


def oversight_readers(session) -> list[User]:
    """The administrators and the contracting authority's users who have a key."""
    return list(session.scalars(select(User).where(User.role.in_(OVERSIGHT_ROLES), User.active.is_(True),
                                                   User.recipient.is_not(None)).order_by(User.id)))


def oversight_recipients(session) -> list:
    return recipients_for(session, oversight_readers(session))
