"""How far each locale's catalogue has been checked: translations/status.toml, one table per locale.

draft: written by a translator or a machine, not checked; machine-reviewed: checked against the
glossary and back-translated (docs/translation-review.md); native-reviewed: read and approved by a
native speaker who knows the workers' situation.
"""

import tomllib
from dataclasses import dataclass
from datetime import date

from .. import resources

LEVELS = ("draft", "machine-reviewed", "native-reviewed")


@dataclass(frozen=True)
class Status:
    locale: str
    level: str
    since: date | None
    note: str


def load(path=None) -> dict[str, Status]:
    """locale -> its status, in the file's order; a level outside LEVELS is an error."""
    path = path or resources.folder("translations") / "status.toml"
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    found = {}
    for locale, entry in data.items():
        if entry.get("status") not in LEVELS:
            raise ValueError(f"{locale}: status must be one of {', '.join(LEVELS)}")
        found[locale] = Status(locale, entry["status"], entry.get("date"), entry.get("note", ""))
    return found


def markdown_table(statuses: dict[str, Status]) -> str:
    """The review table of translations/README.md, one row per locale."""
    lines = ["| locale | status | since | note |", "|---|---|---|---|"]
    lines += [f"| {s.locale} | {s.level} | {s.since or ''} | {s.note} |" for s in statuses.values()]
    return "\n".join(lines) + "\n"
