"""The code is shaped like its users: a developer adding a page, a service or a
table finds one place for it, and imports run one way (docs/architecture.md).

Every import is read from the source, including those inside functions, so a
late import cannot hide a circle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AUDIENCES = ("reporter", "inbox", "admin", "oversight", "api")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("portal", "crypto"):
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project's modules that ``name`` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                # A package's own name is its first level; a module's is its package.
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in MODULES else source)
    return {target for target in targets if target in MODULES and target != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(importers: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{name} -> {target}" for name, targets in GRAPH.items() if _in(name, importers)
                  for target in targets if any(_in(target, package) for package in forbidden))


def test_the_reader_of_the_imports_sees_them_all():
    # Guards the test itself: the known imports of a few modules are found.
    assert "portal.web.common.sessions" in GRAPH["portal.web.common.access"]
    assert "portal.services.cases" in GRAPH["portal.web.inbox.cases"]
    assert "portal.web" in GRAPH["portal"]  # imported inside create_app
    assert "crypto" in GRAPH["portal.web.inbox.case_page"]


def test_the_cycle_finder_finds_a_circle_through_a_late_import():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_portal_or_crypto_imports_itself_in_a_circle():
    assert _cycles(GRAPH) == []


def test_crypto_is_a_library_that_knows_nothing_of_the_portal():
    assert _violations("crypto", ("portal",)) == []


def test_imports_run_from_web_to_services_to_models_never_back_up():
    assert _violations("portal.services", ("portal.web", "portal.cli")) == []
    assert _violations("portal.models", ("portal.services", "portal.web", "portal.cli")) == []


def test_what_the_audiences_share_imports_none_of_them():
    assert _violations("portal.web.common", tuple(f"portal.web.{a}" for a in AUDIENCES)) == []


@pytest.mark.parametrize("audience", AUDIENCES)
def test_an_audience_package_imports_no_other_audience(audience):
    others = tuple(f"portal.web.{other}" for other in AUDIENCES if other != audience)
    assert _violations(f"portal.web.{audience}", others) == []


@pytest.mark.parametrize("audience", AUDIENCES)
def test_each_audience_has_a_package_mirroring_its_templates(audience):
    package = ROOT / "portal" / "web" / audience
    assert (package / "__init__.py").is_file()
    templates = ROOT / "portal" / "templates" / audience
    assert audience == "api" or templates.is_dir()


def test_every_blueprint_keeps_its_endpoints(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    # Endpoints the templates and redirects name, one of each blueprint.
    for endpoint in ("reporter.report", "inbox.case", "inbox.login", "claims.remedy", "forwards.forward",
                     "forwards.partners_page", "admin.routing_page", "admin.users", "admin.settings",
                     "registry.index", "oversight.statistics", "api.receive_bundle"):
        assert endpoint in endpoints, endpoint
