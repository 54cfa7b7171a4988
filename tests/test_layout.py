"""The package's layout: no import cycles between painctl's modules (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import graphlib

PACKAGE = Path(__file__).resolve().parents[1] / "painctl"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Return the painctl modules ``path`` imports anywhere (top level or inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from painctl.x import y` imports painctl.x, and painctl.x.y when y is a module.
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            # A module's import runs its package's __init__ too; the edge that matters is to the module.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != this and name != "painctl":
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Return module -> the painctl modules it imports (a package's edges to its own submodules
    and a submodule's edge to its package's __init__ are how Python packages work: left out)."""
    files = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(f) for f in files}
    graph: dict[str, set[str]] = {}
    for f in files:
        this = module_name(f)
        graph[this] = {t for t in imported_modules(f, known) if not t.startswith(this + ".") and not this.startswith(t + ".")}
    return graph


def test_no_import_cycles():
    try:
        tuple(graphlib.TopologicalSorter(import_graph()).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError("import cycle: " + " -> ".join(exc.args[1])) from None


def test_the_graph_sees_function_level_imports_and_cycles():
    graph = import_graph()
    # painctl.cli.rig imports the rig stage only inside its command function.
    assert "painctl.stages.rig" in graph["painctl.cli.rig"]
    graph["painctl.facs"].add("painctl.cli.rig")  # a made-up back edge must be caught
    with_cycle = graphlib.TopologicalSorter(graph)
    try:
        tuple(with_cycle.static_order())
    except graphlib.CycleError:
        return
    raise AssertionError("a cycle through a function-level import went unseen")
