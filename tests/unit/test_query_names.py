"""Every named query the code asks for is in a .sql file, and every one there is asked for.

A mistyped name in `Q["lease_next_jb"]` would otherwise fail only when that line runs.
Read statically: the packages are walked for their Python modules and .sql files (no
path is written down here, so files may move), each module's query dicts are found
from their `load_queries(package, file)` assignments and the imports of them, and
each subscript of one of them is a use. A name that is not written at the subscript
(`Q[query]`, `Q[f"export_{kind}"]`) is followed to the literals it comes from: the
calls of the function it is a parameter of, the tuples a `for` takes it from, or the
assignments that give it its value (as far as an `if name != "x"` around it lets
them); one this test cannot follow fails it, to be written plainer or taught here.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from db.queries import load_queries

PACKAGES = ("server", "anonymizers")  # the packages that keep SQL beside their code
NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)

QueryFile = tuple[str, str]  # load_queries' (package, filename)


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node

    def where(self, node: ast.AST) -> str:
        return f"{self.path}:{getattr(node, 'lineno', '?')}"


@functools.cache
def _defined(file: QueryFile) -> frozenset[str]:
    return frozenset(load_queries(*file))


@functools.cache
def _package_modules() -> tuple[Module, ...]:
    return tuple(_modules())


def _modules() -> Iterator[Module]:
    for package in PACKAGES:
        for root in map(Path, importlib.import_module(package).__path__):
            for path in sorted(root.rglob("*.py")):
                parts = path.relative_to(root.parent).with_suffix("").parts
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                yield Module(name, path, ast.parse(path.read_text(encoding="utf-8")))


def _sql_files() -> Iterator[Path]:
    for package in PACKAGES:
        for root in map(Path, importlib.import_module(package).__path__):
            yield from sorted(root.rglob("*.sql"))


def _loaders(module: Module) -> dict[str, QueryFile]:
    """Module-level `X = load_queries("package", "file.sql")`: X -> its file."""
    found: dict[str, QueryFile] = {}
    for node in module.tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        func = node.value.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if called != "load_queries":
            continue
        args = node.value.args
        message = f"{module.where(node)}: load_queries with other than two literal arguments"
        assert len(args) == 2, message
        assert all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args), message
        package, filename = (
            a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        )
        for target in node.targets:
            assert isinstance(target, ast.Name), module.where(node)
            found[target.id] = (package, filename)
    return found


def _imported_module(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if not module.path.name == "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _dict_names(
    module: Module, loaders: dict[str, dict[str, QueryFile]]
) -> tuple[dict[str, QueryFile], dict[tuple[str, str], QueryFile]]:
    """The names (X) and module attributes (m.X) that are query dicts in this module."""
    names = dict(loaders.get(module.name, {}))
    attributes: dict[tuple[str, str], QueryFile] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            source = _imported_module(module, node)
            for alias in node.names:
                if alias.name in loaders.get(source, {}):
                    names[alias.asname or alias.name] = loaders[source][alias.name]
                submodule = f"{source}.{alias.name}"
                for attr, file in loaders.get(submodule, {}).items():
                    attributes[(alias.asname or alias.name, attr)] = file
        elif isinstance(node, ast.Import):
            for alias in node.names:
                for attr, file in loaders.get(alias.name, {}).items():
                    attributes[(alias.asname or alias.name, attr)] = file
    return names, attributes


def _strings(node: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _enclosing_function(
    module: Module, node: ast.AST
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while node in module.parents:
        node = module.parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _from_calls(
    module: Module, function: ast.FunctionDef | ast.AsyncFunctionDef, parameter: str
) -> list[str]:
    """The literals passed for `parameter` in the module's calls of `function`."""
    params = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    index = params.index(parameter)
    found: list[str] = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == function.name:
            position = index
        elif isinstance(func, ast.Attribute) and func.attr == function.name:
            position = index - 1 if params[:1] in (["self"], ["cls"]) else index
        else:
            continue
        args: list[ast.expr] = [
            *node.args[position : position + 1],
            *(k.value for k in node.keywords if k.arg == parameter),
        ]
        for arg in args:
            message = f"{module.where(node)}: a query name that is not a literal"
            assert isinstance(arg, ast.Constant), message
            assert isinstance(arg.value, str), message
            found.append(arg.value)
    return found


def _from_loop(module: Module, loop: ast.For | ast.AsyncFor, variable: str) -> list[str]:
    """The literals a `for` over a literal tuple or list gives `variable`."""
    assert isinstance(loop.iter, ast.Tuple | ast.List), module.where(loop)
    target = loop.target
    found: list[str] = []
    for element in loop.iter.elts:
        if isinstance(target, ast.Name):
            value: ast.expr = element
        else:
            assert isinstance(target, ast.Tuple)
            assert isinstance(element, ast.Tuple)
            names = [t.id if isinstance(t, ast.Name) else None for t in target.elts]
            value = element.elts[names.index(variable)]
        message = f"{module.where(loop)}: a query name that is not a literal"
        assert isinstance(value, ast.Constant), message
        assert isinstance(value.value, str), message
        found.append(value.value)
    return found


def _assigned(scope: ast.AST, variable: str) -> list[ast.expr]:
    """What `variable = …` assigns in the scope (not in functions nested in it)."""
    found: list[ast.expr] = []
    body = scope.body if isinstance(scope, ast.Module) else [scope]
    for node in (n for statement in body for n in ast.walk(statement)):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == variable for t in node.targets
        ):
            found.append(node.value)
    return found


def _from_assignments(
    module: Module, function: ast.FunctionDef | ast.AsyncFunctionDef, variable: str
) -> list[str]:
    """The literals that may reach `variable` through assignments in the function, or
    of the module (`name = parts[i]`, `parts = A if x else ("b",)`, `A = ("a", …)`)."""
    found: list[str] = []
    seen: set[str] = set()
    pending = [variable]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        values = _assigned(function, name) or _assigned(module.tree, name)
        assert values, f"{module.where(function)}: where does {name!r} come from?"
        work = list(values)
        while work:
            value = work.pop()
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.append(value.value)
            elif isinstance(value, ast.Name):
                pending.append(value.id)
            elif isinstance(value, ast.Tuple | ast.List):
                work += value.elts
            elif isinstance(value, ast.Subscript):  # an element of it, whichever
                work.append(value.value)
            elif isinstance(value, ast.IfExp):
                work += [value.body, value.orelse]
            elif isinstance(value, ast.Dict):  # `_ERASE = {"part": "query", …}`: its values
                work += value.values
            else:
                raise AssertionError(f"{module.where(value)}: a query name this test cannot follow")
    return found


def _guarded(module: Module, node: ast.AST, variable: str, names: list[str]) -> list[str]:
    """`names` as far as the `if variable != "x"` / `== "x"` around `node` let them."""
    child = node
    while child in module.parents:
        parent = module.parents[child]
        test = parent.test if isinstance(parent, ast.If) else None
        if (
            isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and test.left.id == variable
            and len(test.ops) == 1
            and isinstance(test.comparators[0], ast.Constant)
        ):
            other = test.comparators[0].value
            inside = child in parent.body  # type: ignore[attr-defined]
            equal = isinstance(test.ops[0], ast.Eq) == inside
            names = [n for n in names if (n == other) == equal]
        child = parent
    return names


def _variable(module: Module, node: ast.AST, variable: str) -> list[str]:
    """The literals that may be the value of `variable` where `node` reads it."""
    where = module.where(node)
    function = _enclosing_function(module, node)
    assert function is not None, f"{where}: a query name this test cannot follow"
    params = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if variable in params:
        return _from_calls(module, function, variable)
    loops = [
        n
        for n in ast.walk(function)
        if isinstance(n, ast.For | ast.AsyncFor)
        and variable in {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
    ]
    if loops:
        assert len(loops) == 1, f"{where}: a query name this test cannot follow"
        return _from_loop(module, loops[0], variable)
    return _guarded(module, node, variable, _from_assignments(module, function, variable))


def _names_of(module: Module, subscript: ast.Subscript) -> list[str]:
    """The query names a subscript may ask for, followed back to their literals."""
    where = module.where(subscript)
    key = subscript.slice
    if isinstance(key, ast.JoinedStr):  # f"export_{kind}": every value `kind` may have
        found = [""]
        for part in key.values:
            if isinstance(part, ast.Constant):
                found = [f + str(part.value) for f in found]
                continue
            cannot_follow = f"{where}: a query name this test cannot follow"
            assert isinstance(part, ast.FormattedValue), cannot_follow
            assert isinstance(part.value, ast.Name), cannot_follow
            assert part.conversion == -1, cannot_follow
            assert part.format_spec is None, cannot_follow
            values = _variable(module, subscript, part.value.id)
            found = [f + v for f in found for v in values]
    elif isinstance(key, ast.Name):
        found = _variable(module, subscript, key.id)
    elif isinstance(key, ast.Subscript) and isinstance(key.value, ast.Name):
        # `_SQL[_ERASE[part]]`: any value of the mapping the key is read from
        function = _enclosing_function(module, subscript)
        assert function is not None, f"{where}: a query name this test cannot follow"
        found = _from_assignments(module, function, key.value.id)
    else:
        found = _strings(key)
    assert found, f"{where}: no literal reaches this query name"
    return found


def _uses(extra: tuple[Module, ...] = ()) -> tuple[dict[QueryFile, set[str]], list[str]]:
    """Every query file's names asked for; and each use of a name it lacks, or of a
    query dict other than by subscript."""
    modules = [*_package_modules(), *extra]
    loaders = {m.name: _loaders(m) for m in modules}
    used: dict[QueryFile, set[str]] = {f: set() for f in _all_loaded(loaders)}
    problems: list[str] = []
    for module in modules:
        names, attributes = _dict_names(module, loaders)
        for node in ast.walk(module.tree):
            file: QueryFile | None = None
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                file = names.get(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                file = attributes.get((node.value.id, node.attr))
            if file is None:
                continue
            parent = module.parents.get(node)
            if not (isinstance(parent, ast.Subscript) and parent.value is node):
                problems.append(f"{module.where(node)}: a query dict used other than as X[name]")
                continue
            defined = _defined(file)
            for name in _names_of(module, parent):
                used[file].add(name)
                if name not in defined:
                    problems.append(f"{module.where(parent)}: no query {name!r} in {file[1]}")
    return used, problems


def _all_loaded(loaders: dict[str, dict[str, QueryFile]]) -> set[QueryFile]:
    return {file for found in loaders.values() for file in found.values()}


def test_every_query_asked_for_is_defined() -> None:
    used, problems = _uses()
    assert used, "no query dict found: has load_queries moved?"
    assert problems == []


def test_every_defined_query_is_asked_for() -> None:
    used, _ = _uses()
    unused = {
        f"{filename}: {name}"
        for (package, filename), names in used.items()
        for name in load_queries(package, filename)
        if name not in names
    }
    assert unused == set()


def test_every_file_of_named_queries_is_loaded() -> None:
    modules = _package_modules()
    loaded = {
        Path(str(resources.files(package).joinpath(filename))).resolve()
        for package, filename in _all_loaded({m.name: _loaders(m) for m in modules})
    }
    named = {p.resolve() for p in _sql_files() if NAME_LINE.search(p.read_text("utf-8"))}
    assert named, "no .sql file of named queries found"
    assert named - loaded == set()


MISTAKES = """
from server import queries
from server.queries import Q as QUERIES


async def run(conn, name):
    await conn.fetch(QUERIES[name])


async def caller(conn):
    await run(conn, "lease_next_jb")
    await conn.fetch(queries.Q["lock_leased_job"])
    await conn.fetch(queries.Q["nope"])
    for query in ("next_task", "nor_this"):
        await conn.fetch(QUERIES[query])
    print(QUERIES)
"""


def test_the_check_catches_mistyped_names_wherever_they_come_from() -> None:
    mistakes = Module("server.mistakes", Path("mistakes.py"), ast.parse(MISTAKES))
    _, problems = _uses((mistakes,))
    assert sorted(problems) == [
        "mistakes.py:13: no query 'nope' in queries.sql",
        "mistakes.py:15: no query 'nor_this' in queries.sql",
        "mistakes.py:16: a query dict used other than as X[name]",
        "mistakes.py:7: no query 'lease_next_jb' in queries.sql",
    ]
