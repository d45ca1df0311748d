"""Small-count suppression: the one rule every statistic of the portal follows.

A count under ``SUPPRESS_BELOW`` is never shown: a small number can single someone out.
Nor is a count shown from which such a small count could be worked out by subtracting shown
figures from one another (complementary suppression): a table's total minus one cell, the total
minus every shown cell, a country's count minus its shown facilities.
"""

from collections.abc import Hashable, Iterable, Mapping

SUPPRESS_BELOW = 5


def small(value: int) -> bool:
    """A count from 1 to 4: one that could point at a person. Zero points at nobody."""
    return 0 < value < SUPPRESS_BELOW


def shown(count: int) -> int | None:
    return count if count >= SUPPRESS_BELOW else None


def table(total: int, counts: Mapping[Hashable, int]) -> dict:
    """The cells of a table beside its total, with as few more cells hidden as it takes so that no
    subtraction (the total minus a cell, the total minus every shown cell) is a count from 1 to 4.
    A case may be in several cells (several categories), so the cells add up to the total or more."""
    kept = {key: count for key, count in counts.items() if count >= SUPPRESS_BELOW}

    def tells_a_small_count() -> bool:
        if total < SUPPRESS_BELOW:
            return False  # the total is hidden: nothing to subtract from
        derived = [total - sum(kept.values())] + [total - count for count in kept.values()]
        return any(small(value) for value in derived)

    while kept and tells_a_small_count():
        del kept[min(kept, key=lambda key: (kept[key], str(key)))]
    return {key: kept.get(key) for key in counts}


def partition(cells: Mapping[Hashable, int], groups: Iterable[tuple[Hashable, Iterable[Hashable]]]) -> set:
    """The cells to hide, when each group's parent cell is the sum of its member cells (each case
    in exactly one member: a month, a facility) and parents and members are all shown.

    Hidden are the small cells and, one by one, the smallest shown member of a group until no
    group tells a small count: a shown parent minus its shown members (the sum of its hidden
    members) is not from 1 to 4, and a hidden parent with a count is not the sum of members all
    shown (it could be worked out, and then subtracted in turn)."""
    groups = [(parent, list(members)) for parent, members in groups]
    hidden = {key for key, count in cells.items() if count < SUPPRESS_BELOW}
    changed = True
    while changed:
        changed = False
        for parent, members in groups:
            visible = sorted((member for member in members if member not in hidden),
                             key=lambda member: (cells[member], str(member)))
            if parent not in hidden:
                hidden_sum = sum(cells[member] for member in members if member in hidden)
                while visible and small(hidden_sum):
                    member = visible.pop(0)
                    hidden.add(member)
                    hidden_sum += cells[member]
                    changed = True
            elif visible and cells[parent] > 0 and len(visible) == len(members):
                hidden.add(visible[0])
                changed = True
    return hidden


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole``, shown only when neither it nor the rest is a count from 1 to 4."""
    if whole < SUPPRESS_BELOW or small(part) or small(whole - part):
        return None
    return part / whole


def median(histogram: Mapping[int, int]) -> int | None:
    """The median of values given as {value: how many}, shown only for at least ``SUPPRESS_BELOW`` of them."""
    count = sum(histogram.values())
    if count < SUPPRESS_BELOW:
        return None
    middle, seen = count // 2, 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen > middle:
            return value
    return None
