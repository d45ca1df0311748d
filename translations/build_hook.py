"""Hatch build hook: compile every ``messages.po`` to ``messages.mo``.

Compiled catalogs are build output, not source: a wheel and an editable
install both get them from this hook.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # loaded by the test suite to refresh catalogs, outside a build
    BuildHookInterface = object


def compile_catalogs(root: Path) -> list[Path]:
    written = []
    for po_path in sorted(root.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3])
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written


class CompileTranslations(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        compile_catalogs(Path(self.root) / "translations")
