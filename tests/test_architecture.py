"""House rules the code can check about itself: no import cycles between pmo's modules."""

import ast
from graphlib import CycleError, TopologicalSorter

from pmo.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "src" / "pmo"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    """module → the pmo modules it imports anywhere (late imports inside functions count too)."""

    def known(name: str) -> str:
        while name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pmo":
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    graph[name].add(full if full in modules else known(node.module))
            elif isinstance(node, ast.Import):
                graph[name] |= {known(a.name) for a in node.names if a.name.split(".")[0] == "pmo"}
        graph[name].discard(name)
    return graph


def test_no_module_imports_itself_through_others():
    """A cycle hides a missing home for shared code (the dashboard once imported the app's private error
    formatter, FAQ drafting the inquiries' operation lookup): move that code down instead of importing late."""
    graph = _imports(_modules())
    assert graph["pmo.app"] and "pmo.deps" in graph["pmo.stats.router"]  # the graph is really read
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' → '.join(exc.args[1])}") from None
