"""Administrators' own reply templates: a name, and its text in English and in other languages.

Each is listed on a case's page beside the standard templates (services/reply_templates.py)
when it has a version in the case's language. Saving and removing one is audited.
"""

from dataclasses import dataclass

from sqlalchemy import delete, select

from ..models import ReplyTemplate
from . import admin_changes, clock
from .refusal import Refusal

NAME_LIMIT = 100
TEXT_LIMIT = 20000


class TemplateError(Refusal):
    """A template that cannot be saved: ``reason`` says why."""


@dataclass(frozen=True)
class Template:
    name: str
    # language → text; English is always there.
    versions: dict[str, str]


def all_templates(session) -> list[Template]:
    found: dict[str, dict[str, str]] = {}
    for row in session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.name, ReplyTemplate.language)):
        found.setdefault(row.name, {})[row.language] = row.text
    return [Template(name, versions) for name, versions in found.items()]


def in_language(session, language: str) -> list[Template]:
    """The templates that have a version in ``language``."""
    return [template for template in all_templates(session) if language in template.versions]


def save(session, actor, name: str, language: str, text: str, english: str = "", *, languages=()) -> None:
    """Add or replace ``name``'s version in ``language``; ``english`` gives its English version
    when it has none yet. All or nothing, and committed."""
    name, text, english = name.strip(), text.strip(), english.strip()
    if not name or len(name) > NAME_LIMIT:
        raise TemplateError("name")
    if language not in languages:
        raise TemplateError("language")
    if not text or len(text) > TEXT_LIMIT or len(english) > TEXT_LIMIT:
        raise TemplateError("text")
    existing = {row.language: row for row in session.scalars(select(ReplyTemplate).where(ReplyTemplate.name == name))}
    versions = {language: text}
    if language != "en" and "en" not in existing:
        if not english:
            raise TemplateError("english")
        versions["en"] = english
    today = clock.today()
    for lang, body in versions.items():
        row = existing.get(lang)
        if row is None:
            session.add(ReplyTemplate(name=name, language=lang, text=body, created_on=today,
                                      created_by=getattr(actor, "id", actor)))
        else:
            row.text = body
    admin_changes.record(session, actor, "reply_template_saved", {"name": name, "languages": sorted(versions)})
    session.commit()


def remove(session, actor, name: str) -> bool:
    """Remove every version of ``name``; False if there was none."""
    removed = session.execute(delete(ReplyTemplate).where(ReplyTemplate.name == name)).rowcount
    if not removed:
        return False
    admin_changes.record(session, actor, "reply_template_removed", {"name": name})
    session.commit()
    return True
