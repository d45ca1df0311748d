"""The running counts statistics read (models/statistics_tally.py), and a recount to prove them.

The database keeps the counts (migration 0027's triggers). ``recount`` works them out again
here, in Python, from the cases, their categories, escalation steps and forwards alone: an
independent second reckoning. The portal's tests end with it, and operators run it as
``portal statistics check`` (``--repair`` writes the recount over the kept counts).
"""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from ..models import (
    Case,
    CaseCategory,
    EscalationStep,
    Forward,
    StatisticsAnswered,
    StatisticsCategory,
    StatisticsForward,
    StatisticsPlace,
    StatisticsWaiting,
)

# One bit per audience: a case's ``audiences`` holds the bits of every audience counting it.
CONTRACTOR, AUTHORITY, MONITOR = 1, 2, 4
AUDIENCE_BITS = {"administrator": CONTRACTOR, "public": CONTRACTOR, "authority": AUTHORITY, "monitor": MONITOR}
DEADLINES = {"a": (Case.acknowledged_on, Case.acknowledge_due), "f": (Case.feedback_given_on, Case.feedback_due)}
TALLIES = {
    StatisticsPlace: ("audiences", "year", "facility_id"),
    StatisticsCategory: ("audiences", "year", "code"),
    StatisticsAnswered: ("audiences", "deadline", "month", "days", "late"),
    StatisticsWaiting: ("audiences", "deadline", "month", "due_on"),
    StatisticsForward: ("audiences", "year", "state", "remote_status"),
}


def counted_by(column, audience: str):
    """The condition that ``column`` (an ``audiences`` value) holds ``audience``'s bit."""
    return column.op("&")(AUDIENCE_BITS[audience]) != 0


def audiences_of(kind: str, recipient_choice: str | None, notified: bool, escalated: bool, forwarded: bool) -> int:
    """The rule the triggers follow, as ``oversight`` words it for each audience."""
    contractor = kind == "report" and recipient_choice is not None and recipient_choice != "monitor"
    bits = CONTRACTOR if contractor else 0
    if contractor and (notified or escalated):
        bits |= AUTHORITY
    if kind == "forwarded" or (kind == "report" and forwarded):
        bits |= MONITOR
    return bits


@dataclass
class Recount:
    audiences: dict[int, int]
    tallies: dict[type, Counter]


def recount(session) -> Recount:
    escalated = set(session.scalars(select(EscalationStep.case_id)))
    forwards = session.execute(select(Forward.case_id, Forward.created_on, Forward.state, Forward.remote_status)).all()
    forwarded = {forward.case_id for forward in forwards}
    categories: dict[int, list[str]] = {}
    for case_id, code in session.execute(select(CaseCategory.case_id, CaseCategory.code)):
        categories.setdefault(case_id, []).append(code)
    audiences: dict[int, int] = {}
    tallies = {model: Counter() for model in TALLIES}
    for row in session.execute(select(
            Case.id, Case.kind, Case.recipient_choice, Case.authority_notified_on, Case.received_on,
            Case.facility_id, Case.acknowledged_on, Case.acknowledge_due, Case.feedback_given_on,
            Case.feedback_due)):
        bits = audiences_of(row.kind, row.recipient_choice, row.authority_notified_on is not None,
                            row.id in escalated, row.id in forwarded)
        audiences[row.id] = bits
        if not bits:
            continue
        year, month = row.received_on.year, row.received_on.year * 100 + row.received_on.month
        tallies[StatisticsPlace][(bits, year, row.facility_id or 0)] += 1
        for code in categories.get(row.id, ()):
            tallies[StatisticsCategory][(bits, year, code)] += 1
        for deadline, (done, due) in (("a", (row.acknowledged_on, row.acknowledge_due)),
                                      ("f", (row.feedback_given_on, row.feedback_due))):
            if done is None:
                tallies[StatisticsWaiting][(bits, deadline, month, due)] += 1
            else:
                tallies[StatisticsAnswered][(bits, deadline, month, (done - row.received_on).days, done > due)] += 1
    for forward in forwards:
        if audiences.get(forward.case_id):
            key = (audiences[forward.case_id], forward.created_on.year, forward.state, forward.remote_status or "")
            tallies[StatisticsForward][key] += 1
    return Recount(audiences, tallies)


def kept(session) -> Recount:
    audiences = dict(session.execute(select(Case.id, Case.audiences)).all())
    tallies = {}
    for model, key in TALLIES.items():
        columns = [getattr(model, name) for name in key]
        tallies[model] = Counter({tuple(bool(v) if name == "late" else v for name, v in zip(key, row[:-1])): row[-1]
                                  for row in session.execute(select(*columns, model.n).where(model.n != 0))})
    return Recount(audiences, tallies)


def disagreements(session) -> list[str]:
    """What the kept counts say that the recount does not (empty when they agree)."""
    expected, found = recount(session), kept(session)
    wrong = [f"case {case_id}: audiences {found.audiences.get(case_id)}, should be {bits}"
             for case_id, bits in expected.audiences.items() if found.audiences.get(case_id) != bits]
    for model in TALLIES:
        zeros = session.scalar(select(func.count()).select_from(model).where(model.n == 0))
        if zeros:
            wrong.append(f"{model.__tablename__}: {zeros} counts of zero kept (a deleted case's trace)")
        should, have = expected.tallies[model], found.tallies[model]
        wrong += [f"{model.__tablename__} {key}: {have.get(key, 0)}, should be {should.get(key, 0)}"
                  for key in sorted(set(should) | set(have), key=repr) if should.get(key, 0) != have.get(key, 0)]
    return wrong


def repair(session) -> None:
    """The recount written over the kept counts, in the caller's transaction."""
    expected = recount(session)
    for case_id, bits in expected.audiences.items():
        session.execute(update(Case).where(Case.id == case_id, Case.audiences != bits).values(audiences=bits))
    # After the cases: a changed ``audiences`` moved counts through the triggers.
    for model, key in TALLIES.items():
        session.execute(delete(model))
        rows = [dict(zip(key, values), n=n) for values, n in expected.tallies[model].items()]
        if rows:
            session.execute(insert(model), rows)
