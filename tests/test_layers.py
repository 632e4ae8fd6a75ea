"""The package's import graph has no cycles: between files, or between sub-packages (run-time imports only;
imports under `if TYPE_CHECKING:` are for the type checker and do not count). A cycle is broken by moving the
shared piece down, never by hiding an import inside a function, so function-level imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "etcdctl_py"


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = p
    return mods


def _imports(mod: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Modules of the package that `mod` imports at run time."""
    found: set[str] = set()
    is_pkg = path.name == "__init__.py"

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.unparse(node.test):
                for stmt in node.orelse:
                    self.visit(stmt)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{a.name}" for a in node.names)

    Visitor().visit(ast.parse(path.read_text()))
    return {m for m in found if m in mods and m != mod}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def test_no_import_cycle_between_files():
    graph = _graph()
    # a package's __init__ re-exporting its own modules is not a cycle of the code's layering
    for mod in graph:
        graph[mod] = {
            d
            for d in graph[mod]
            if not (mod.startswith(d + ".") and (PKG.parent / Path(*d.split(".")) / "__init__.py").exists())
        }
    assert _cycles(graph) == []


def test_no_import_cycle_between_subpackages():
    """etcdctl_py.cli, .output, .client, .server, .storage, .snapshot, ... (top-level modules count as their own)."""

    def group(mod: str) -> str:
        return ".".join(mod.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for mod, deps in _graph().items():
        graph.setdefault(group(mod), set()).update(group(d) for d in deps if group(d) != group(mod))
    for deps in list(graph.values()):
        for d in deps:
            graph.setdefault(d, set())
    assert _cycles(graph) == []
