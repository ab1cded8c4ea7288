"""No two packages of the project import each other, directly or around a loop.

The graph is read statically with `ast` from every module of the project's packages (and main.py):
imports at module level and inside functions alike, so an import moved into a function to dodge a
cycle still counts. Imports inside a package (samplers.pc -> samplers._common) are not edges.
"""

import ast
import functools
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _packages() -> set[str]:
    return {name for name in os.listdir(ROOT) if name != "tests"
            and os.path.isfile(os.path.join(ROOT, name, "__init__.py"))}


def _modules():
    """(package, path) of every project module; main.py is its own package."""
    yield "main", os.path.join(ROOT, "main.py")
    for package in sorted(_packages()):
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in sorted(files):
                if name.endswith(".py"):
                    yield package, os.path.join(folder, name)


def _imported(tree: ast.AST):
    """(top-level name, line) of every absolute import anywhere in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


@functools.lru_cache(maxsize=1)
def package_graph() -> dict[str, dict[str, str]]:
    """package -> {imported package: 'path:line' of the first import that makes the edge}."""
    packages = _packages() | {"main"}
    graph: dict[str, dict[str, str]] = {p: {} for p in packages}
    for package, path in _modules():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for target, line in _imported(tree):
            if target in packages and target != package:
                graph[package].setdefault(target, f"{os.path.relpath(path, ROOT)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, nodes coloured white/grey/black)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
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


def test_imports_inside_functions_count_and_relative_ones_do_not():
    tree = ast.parse("import a.b\nfrom c import d\nfrom . import e\ndef f():\n    from g.h import i\n")
    assert sorted(_imported(tree)) == [("a", 1), ("c", 2), ("g", 5)]


def test_find_cycle_reports_the_loop_and_accepts_a_dag():
    assert find_cycle({"a": {"b": ""}, "b": {"c": ""}, "c": {}}) is None
    assert find_cycle({"a": {"b": ""}, "b": {"c": ""}, "c": {"b": ""}}) == ["b", "c", "b"]


def test_the_package_graph_has_no_cycle():
    graph = package_graph()
    assert "modes" in graph["main"] and "training" in graph["modes"]  # the graph was read
    cycle = find_cycle(graph)
    where = [f"{a} -> {b} ({graph[a][b]})" for a, b in zip(cycle, cycle[1:])] if cycle else []
    assert cycle is None, "packages import each other: " + "; ".join(where)


def test_library_packages_do_not_import_the_programs_above_them():
    """modes/ runs on plain objects (no configs); the library below it knows no Experiment."""
    graph = package_graph()
    for package in ("modes", "training", "evaluation", "samplers", "sde_lib", "models", "importers"):
        assert not {"configs", "benchmarks", "main"} & set(graph[package]), (package, graph[package])
    for package in ("training", "evaluation", "samplers", "sde_lib", "models", "importers"):
        assert "modes" not in graph[package], (package, graph[package]["modes"])


def _bound_names(tree: ast.AST):
    """(name, line) of every name the module binds other than by `import`: assignment targets,
    arguments, functions and classes, anywhere in it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id, node.lineno
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, node.lineno
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if a is not None:
                    yield a.arg, node.lineno


def test_no_module_shadows_a_package_it_imports():
    """`import data` and `data = ...` (or an argument `data`) in one module: the name hides the
    package there (an UnboundLocalError in a function that uses both)."""
    assert ("data", 2) in list(_bound_names(ast.parse("import data\ndef f(data):\n    pass\n")))
    packages = _packages()
    paths = [path for _, path in _modules()]
    for folder in ("tests", "benchmarks"):
        paths += [os.path.join(ROOT, folder, n) for n in sorted(os.listdir(os.path.join(ROOT, folder)))
                  if n.endswith(".py")]
    found = []
    for path in sorted(set(paths)):
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names if (alias.asname or alias.name) in packages}
        found += [f"{os.path.relpath(path, ROOT)}:{line}: {name}" for name, line in _bound_names(tree)
                  if name in imported]
    assert found == [], found
