"""Where the shipped folders are: inside the installed package, or beside it in a checkout.

A wheel carries ``static/``, ``translations/`` and ``migrations/`` inside the
``portal`` package; an editable install reads them from the repository root.
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from this installation")
