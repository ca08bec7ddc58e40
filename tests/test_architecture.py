"""The import rules of docs/architecture.md, checked on every module of the repository."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from bot.config import PROJECT_ROOT

TOP_LEVEL = ("bot", "actions", "connectors", "testing", "bench", "scripts", "tests")
"""Folders of the repository whose Python modules are checked."""

LIBRARY = "bot.*"
"""Stands for every ``bot`` package other than ``bot.config`` and ``bot.store``."""

ALLOWED: dict[str, set[str]] = {
    "bot.config": set(),
    "bot.store": {"bot.config"},
    LIBRARY: {"bot.config", "bot.store", LIBRARY},
    "actions": {"bot.config", "bot.store", LIBRARY},
    "connectors": {"bot.config", "bot.store", LIBRARY},
    "testing": {"bot.config", "bot.store", LIBRARY, "actions", "connectors"},
    "bench": {"bot.config", "bot.store", LIBRARY, "actions", "connectors", "testing"},
    "scripts": {"bot.config", "bot.store", LIBRARY, "actions", "connectors", "testing"},
    "tests": {"bot.config", "bot.store", LIBRARY, "actions", "connectors", "testing", "bench"},
}
"""Package -> the packages it may import (its own package is always allowed)."""


def package_of(module: str) -> str | None:
    """The package of a dotted module name (``bot.store.models`` -> ``bot.store``), or
    ``None`` for a module outside the project."""
    parts = module.split(".")
    if parts[0] not in TOP_LEVEL:
        return None
    if parts[0] == "bot" and len(parts) > 1:
        return f"bot.{parts[1]}"
    return parts[0]


def rule_of(package: str) -> str:
    """The key of :data:`ALLOWED` that governs ``package``."""
    return package if package in ALLOWED else LIBRARY


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every absolute import in the file (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def project_modules() -> list[tuple[Path, str]]:
    """Every project ``.py`` file with its dotted module name."""
    modules = []
    for top in TOP_LEVEL:
        for path in sorted((PROJECT_ROOT / top).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT).with_suffix("")
            modules.append((path, ".".join(relative.parts)))
    return modules


def package_edges() -> dict[tuple[str, str], list[str]]:
    """``(importer package, imported package) -> ["file:line", ...]`` across packages."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path, module in project_modules():
        source = package_of(module)
        for line, name in imported_modules(path):
            target = package_of(name)
            if target is not None and source is not None and target != source:
                where = f"{path.relative_to(PROJECT_ROOT)}:{line}"
                edges.setdefault((source, target), []).append(where)
    return edges


def forbidden(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """The edges :data:`ALLOWED` does not permit, as readable lines."""
    return [
        f"{source} -> {target} ({', '.join(places)})"
        for (source, target), places in sorted(edges.items())
        if rule_of(target) not in ALLOWED[rule_of(source)]
    ]


def library_cycle(edges: dict[tuple[str, str], list[str]]) -> list[str] | None:
    """A cycle among the ``bot`` packages as a list of packages, or ``None``."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        if source.startswith("bot.") and target.startswith("bot."):
            graph.setdefault(source, set()).add(target)
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, ())):
            cycle = visit(nxt, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_every_import_follows_the_architecture():
    assert forbidden(package_edges()) == []


def test_library_packages_form_no_cycle():
    assert library_cycle(package_edges()) is None


def edits_sys_path(path: Path) -> bool:
    """Whether the module calls a method of ``sys.path`` or assigns to it."""
    return edits_sys_path_source(path.read_text(encoding="utf-8"), path)


def edits_sys_path_source(source: str, path: Path) -> bool:
    """:func:`edits_sys_path` of ``source`` (read from ``path``)."""
    for node in ast.walk(ast.parse(source, str(path))):
        target = node.func.value if isinstance(node, ast.Call) and isinstance(
            node.func, ast.Attribute) else None
        if isinstance(node, ast.Assign):
            target = next(iter(node.targets), None)
        if isinstance(target, ast.Attribute) and target.attr == "path" and isinstance(
                target.value, ast.Name) and target.value.id == "sys":
            return True
    return False


def test_benchmarks_do_not_edit_sys_path():
    benchmarks = sorted((PROJECT_ROOT / "bench").glob("*.py"))
    edits = [str(p.relative_to(PROJECT_ROOT)) for p in benchmarks if edits_sys_path(p)]
    assert edits == []
    assert edits_sys_path(Path(__file__).with_name("conftest.py")) is False
    edit = PROJECT_ROOT / "testing" / "sys_path_probe.py"
    assert edits_sys_path_source("import sys\nsys.path.insert(0, 'x')\n", edit)  # sees a call


def test_the_checker_sees_a_forbidden_edge_and_a_cycle():
    edges = {("bot.store", "bot.kicks"): ["x:1"], ("bot.kicks", "bot.store"): ["y:1"],
             ("actions", "connectors"): ["z:1"], ("bench", "bot.store"): ["w:1"]}
    assert forbidden(edges) == ["actions -> connectors (z:1)", "bot.store -> bot.kicks (x:1)"]
    assert library_cycle(edges) in (["bot.kicks", "bot.store", "bot.kicks"],
                                    ["bot.store", "bot.kicks", "bot.store"])


def channel_modules() -> set[str]:
    """The modules of the input channels ``credentials.yml`` names (``connectors.rest`` for
    ``connectors.rest.RestInput``)."""
    credentials = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8"))
    return {name.rpartition(".")[0] for name in credentials if name.startswith("connectors.")}


def channel_imports(channels: set[str]) -> list[str]:
    """``"importer -> channel (file:line)"`` for every ``connectors`` module importing one of
    ``channels`` other than itself."""
    found = []
    for path, module in project_modules():
        if package_of(module) != "connectors":
            continue
        for line, name in imported_modules(path):
            if name in channels and name != module:
                found.append(f"{module} -> {name} ({path.relative_to(PROJECT_ROOT)}:{line})")
    return found


def test_no_channel_is_imported_by_another_connector():
    channels = channel_modules()
    assert {"connectors.rest", "connectors.socketio", "connectors.telegram",
            "connectors.voice"} <= channels
    assert channel_imports(channels) == []
    assert channel_imports({"connectors.sanitize"})  # the checker sees a connector's import
