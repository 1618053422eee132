"""The project's layout keeps its promises: no import cycle, one job per package, catalogues and
benchmarks outside the product (``docs/architecture.md``)."""

from __future__ import annotations

import ast

from resnets_kit import REPO_ROOT

PACKAGE = REPO_ROOT / "resnets_kit"


def _module_name(path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module to the project modules it imports, at the top or inside a function (a lazy import
    is still a dependency); ``if TYPE_CHECKING:`` blocks are left out."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skipped = {
            id(node)
            for top in ast.walk(tree)
            if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
            for node in ast.walk(top)
        }
        targets = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 20  # the walk found the package's modules
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_grader_does_not_depend_on_the_class_grader():
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("resnets_kit.grader"):
            assert not any(t.startswith("resnets_kit.classgrade") for t in targets), name


def test_the_graders_do_not_depend_on_the_exported_packages():
    graph = import_graph()
    assert any(name.startswith("resnets_kit.export") for name in graph)
    for name, targets in graph.items():
        if name.startswith(("resnets_kit.grader", "resnets_kit.classgrade")):
            assert not any(t.startswith("resnets_kit.export") for t in targets), name


def test_the_product_imports_no_catalogue_and_no_benchmark():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "qa" or n.startswith(("qa.", "benchmarks")) for n in names), path


def test_the_graders_modules_stay_small():
    """One job per module: no module of the grader, the class grader or the exported packages
    grows past 400 lines."""
    paths = [*(PACKAGE / "grader").glob("*.py"), *(PACKAGE / "classgrade").glob("*.py")]
    paths += [*(PACKAGE / "export").glob("*.py")]
    sizes = {p.relative_to(REPO_ROOT).as_posix(): len(p.read_text().splitlines()) for p in paths}
    assert len(sizes) > 15
    assert max(sizes.values()) <= 400, {p: n for p, n in sizes.items() if n > 400}
