"""What Citus (PostgreSQL distributed by tenant_id) needs of the schema and the SQL.

Two checks, both pure reading (docs/scaling.md):

* `catalog_problems`: over the live catalog, every tenant table (one with a tenant_id
  column) has a primary key whose first column is tenant_id, every unique index on it
  (partial ones too) includes tenant_id, and every foreign key that touches a tenant
  table pairs tenant_id with tenant_id.
* `query_problems`: a static read of named queries. A query that references two or
  more tenant tables (FROM, JOIN, UPDATE, DELETE FROM, INSERT INTO, USING) must tie
  all of them together on tenant_id: each pair of references is joined by an equality
  `a.tenant_id = b.tenant_id` (or JOIN … USING (tenant_id), or an INSERT's tenant_id
  taken from another reference's), or both are pinned to the same tenant parameter
  (`tenant_id = $1` in each: one tenant, a router query on Citus). References pinned
  to two different parameters are two tenants, and fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import asyncpg

# ---------------------------------------------------------------------------- catalog

_TABLES = """
SELECT c.oid, c.relname AS table,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""

# Unique indexes (primary keys included) with their key columns in order; an
# expression column is NULL.
_UNIQUE = """
SELECT i.indrelid::regclass::text AS table, i.indexrelid::regclass::text AS index,
       i.indisprimary AS primary,
       array(SELECT a.attname::text
             FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             ORDER BY k.n) AS columns
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND i.indisunique
ORDER BY 1, 2
"""

_FOREIGN = """
SELECT f.conname AS name, f.conrelid::regclass::text AS table,
       f.confrelid::regclass::text AS references,
       array(SELECT a.attname::text FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum
             ORDER BY k.n) AS columns,
       array(SELECT a.attname::text FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum
             ORDER BY k.n) AS referenced
FROM pg_constraint f
JOIN pg_namespace n ON n.oid = f.connamespace
WHERE n.nspname = 'public' AND f.contype = 'f'
ORDER BY 2, 1
"""


async def tenant_tables(conn: asyncpg.Connection) -> tuple[set[str], set[str]]:
    """(tables with a tenant_id column, tables without one) of the public schema."""
    rows = await conn.fetch(_TABLES)
    return {r["table"] for r in rows if r["tenant"]}, {r["table"] for r in rows if not r["tenant"]}


async def catalog_problems(conn: asyncpg.Connection) -> set[str]:
    """Each way the live schema breaks the distribution rules, one line each."""
    tenant, _ = await tenant_tables(conn)
    problems: set[str] = set()
    unique = await conn.fetch(_UNIQUE)
    keyed = {r["table"] for r in unique if r["primary"]}
    problems |= {f"{t}: no primary key" for t in tenant - keyed}
    for r in unique:
        if r["table"] not in tenant:
            continue
        columns = [c or "(expression)" for c in r["columns"]]
        if r["primary"] and columns[0] != "tenant_id":
            problems.add(
                f"{r['table']}: primary key ({', '.join(columns)}) does not start with tenant_id"
            )
        elif not r["primary"] and "tenant_id" not in columns:
            problems.add(
                f"{r['table']}: unique index {r['index']} ({', '.join(columns)})"
                " does not include tenant_id"
            )
    for r in await conn.fetch(_FOREIGN):
        if r["table"] not in tenant and r["references"] not in tenant:
            continue  # between global tables: nothing to co-locate
        pairs = set(zip(r["columns"], r["referenced"], strict=True))
        if ("tenant_id", "tenant_id") not in pairs:
            problems.add(
                f"{r['table']}: foreign key {r['name']} ({', '.join(r['columns'])}) ->"
                f" {r['references']} ({', '.join(r['referenced'])}) does not pair tenant_id"
                " with tenant_id"
            )
    return problems


# ---------------------------------------------------------------------------- queries

_TOKEN = re.compile(
    r"""
      (?P<skip>\s+|--[^\n]*|/\*.*?\*/)
    | (?P<string>'(?:[^']|'')*'|\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$|E'(?:[^'\\]|\\.|'')*')
    | (?P<param>\$\d+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*|"[^"]+")
    | (?P<other>::|<=|>=|<>|!=|&&|\|\||[^\sA-Za-z_])
    """,
    re.VERBOSE | re.DOTALL,
)

# Words after which a table reference's alias cannot be.
_KEYWORDS = frozenset(
    """all and as cross default do except for from full group having inner intersect join
    lateral left limit locked natural nowait of offset on or order outer returning right
    select set skip union
    using values where window with""".split()
)
_REFERENCING = frozenset({"from", "join", "update", "into", "using"})
_NEW_SEGMENT = frozenset({"select", "union", "intersect", "except"})


def tokens(sql: str) -> list[str]:
    """The SQL's words (lower case), parameters and symbols; comments and strings out
    (a string is kept as one token, "'…'", so it is never read as a name)."""
    found: list[str] = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        if kind == "skip":
            continue
        text = match.group()
        found.append("'…'" if kind == "string" else text.strip('"').lower())
    return found


@dataclass(frozen=True, eq=False)
class Reference:
    """A table as a query names it: where (scope path, segment) and by what name."""

    table: str
    alias: str
    scope: tuple[int, ...]
    segment: int


@dataclass(frozen=True, eq=False)
class Column:
    """A tenant_id column as written: `alias.tenant_id`, or bare; with the (scope,
    segment) it is in and each enclosing one, innermost first."""

    qualifier: str | None
    levels: tuple[tuple[tuple[int, ...], int], ...]


Operand = Column | str | Reference  # a column, a "$n" parameter, or a table itself


@dataclass
class _Reader:
    words: list[str]
    refs: list[Reference] = field(default_factory=list)
    links: list[tuple[Operand, Operand]] = field(default_factory=list)
    scope: list[int] = field(default_factory=lambda: [0])
    segments: dict[tuple[int, ...], int] = field(default_factory=dict)
    opened: int = 0

    def where(self) -> tuple[tuple[int, ...], int]:
        """The scope (path of parentheses) and segment (SELECT, UNION arm) read now."""
        path = tuple(self.scope)
        return path, self.segments.get(path, 0)

    def word(self, i: int) -> str:
        return self.words[i] if 0 <= i < len(self.words) else ""

    def is_name(self, i: int) -> bool:
        w = self.word(i)
        return bool(re.fullmatch(r"[a-z_][a-z0-9_]*", w)) and w not in _KEYWORDS

    def read(self) -> None:
        for i, w in enumerate(self.words):
            if w == "(":
                self.opened += 1
                self.scope.append(self.opened)
            elif w == ")" and len(self.scope) > 1:
                self.scope.pop()
            elif w in _NEW_SEGMENT:
                path = tuple(self.scope)
                self.segments[path] = self.segments.get(path, 0) + 1
            elif w in _REFERENCING:
                self.reference(i)
            elif w == "=":
                self.equality(i)

    def reference(self, i: int) -> None:
        """The table(s) named after FROM/JOIN/UPDATE/INTO/USING at i."""
        if self.words[i] == "using" and self.word(i + 1) == "(":
            self.join_using(i)
            return
        # A name followed by "(" is a function (FROM unnest(…)), but INTO t (columns).
        called = ("(", ".") if self.words[i] != "into" else (".",)
        while self.is_name(i + 1) and self.word(i + 2) not in called:
            table, j = self.words[i + 1], i + 2
            if self.word(j) == "as":
                j += 1
            alias = table
            if self.is_name(j):
                alias, j = self.words[j], j + 1
            path, segment = self.where()
            ref = Reference(table, alias, path, segment)
            self.refs.append(ref)
            if self.words[i] == "into" and self.word(j) == "(":
                self.insert(ref, j)
            if self.word(j) != "," or self.words[i] != "from":
                return
            i = j

    def join_using(self, i: int) -> None:
        """JOIN x USING (…, tenant_id, …): x and the reference before it, joined."""
        j = i + 2
        columns = []
        while self.word(j) not in (")", ""):
            columns.append(self.words[j])
            j += 1
        path, segment = self.where()
        here = [r for r in self.refs if r.scope == path and r.segment == segment]
        if "tenant_id" in columns and len(here) >= 2:
            self.links.append((here[-1], here[-2]))

    def insert(self, ref: Reference, j: int) -> None:
        """INSERT INTO t (…, tenant_id, …) VALUES/SELECT: t's tenant_id is what goes in."""
        end = self.words.index(")", j)
        columns = [w for w in self.words[j + 1 : end] if w != ","]
        if "tenant_id" not in columns:
            return
        position = columns.index("tenant_id")
        k = end + 1
        if self.word(k) == "values" and self.word(k + 1) == "(":
            k += 2
        elif self.word(k) == "select":
            k += 1
        else:
            return
        items = self.items(k)
        if position < len(items):
            value = self.operand(items[position], inside=True)
            if value is not None:
                self.links.append((ref, value))

    def items(self, k: int) -> list[list[int]]:
        """The positions of each top-level, comma-separated item from k on."""
        items: list[list[int]] = [[]]
        depth = 0
        while k < len(self.words) and depth >= 0:
            w = self.words[k]
            if depth == 0 and w in ("from", "where", "on", "returning", ";"):
                break
            depth += (w == "(") - (w == ")")
            if depth == 0 and w == ",":
                items.append([])
            elif depth >= 0:
                items[-1].append(k)
            k += 1
        return items

    def operand(self, positions: list[int], *, inside: bool = False) -> Operand | None:
        """`$n` (a cast after it allowed), `tenant_id` or `x.tenant_id` at positions."""
        ws = [self.words[p] for p in positions]
        if "::" in ws:
            ws = ws[: ws.index("::")]
        levels = [
            (tuple(self.scope[:n]), self.segments.get(tuple(self.scope[:n]), 0))
            for n in range(len(self.scope), 0, -1)
        ]
        if inside:  # an INSERT's SELECT list: the segment the SELECT opens
            levels[0] = (levels[0][0], levels[0][1] + 1)
        if len(ws) == 1 and ws[0].startswith("$"):
            return ws[0]
        if ws == ["tenant_id"]:
            return Column(None, tuple(levels))
        if len(ws) == 3 and ws[1:] == [".", "tenant_id"]:
            return Column(ws[0], tuple(levels))
        return None

    def equality(self, i: int) -> None:
        left = [p for p in (i - 3, i - 2, i - 1) if p >= 0]
        for start in (0, 2):  # `x.tenant_id =` or `tenant_id =` / `$1 =`
            lhs = self.operand(left[start:]) if left[start:] else None
            if lhs is not None:
                break
        right = self.right_operand(i + 1)
        if lhs is not None and right is not None and Column in (type(lhs), type(right)):
            self.links.append((lhs, right))

    def right_operand(self, k: int) -> Operand | None:
        if self.word(k).startswith("$"):
            return self.words[k]
        if self.word(k + 1) == "." and self.word(k + 2) == "tenant_id":
            return self.operand([k, k + 1, k + 2])
        if self.word(k) == "tenant_id" and self.word(k + 1) != ".":
            return self.operand([k])
        return None

    def resolve(self, column: Column) -> Reference | None:
        """The reference a tenant_id column belongs to, as SQL scoping would find it."""
        for path, segment in column.levels:
            here = [r for r in self.refs if r.scope == path]
            if column.qualifier is not None:
                named = [r for r in here if r.alias == column.qualifier]
                if named:
                    return named[-1]
                continue
            same = [r for r in here if r.segment == segment]
            if len(same) == 1:
                return same[0]
            if len(same) > 1:
                return None  # ambiguous in SQL too
        return None


def tenant_links(sql: str, tenant: set[str]) -> tuple[list[Reference], list[set[int]]]:
    """The query's references to tenant tables, and the groups (by index) of those
    tied together on tenant_id."""
    reader = _Reader(tokens(sql))
    reader.read()
    refs = [r for r in reader.refs if r.table in tenant]
    parent: dict[object, object] = {}

    def find(x: object) -> object:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def node(x: Operand) -> object | None:
        if isinstance(x, Column):
            ref = reader.resolve(x)
            return ref if ref is not None and ref.table in tenant else None
        return x

    for a, b in reader.links:
        na, nb = node(a), node(b)
        if na is not None and nb is not None:
            parent[find(na)] = find(nb)
    groups: dict[object, set[int]] = {}
    for index, ref in enumerate(refs):
        groups.setdefault(find(ref), set()).add(index)
    return refs, list(groups.values())


def query_problem(name: str, sql: str, tenant: set[str]) -> str | None:
    """Why the query is not one Citus can route by tenant, or None."""
    refs, groups = tenant_links(sql, tenant)
    if len(refs) < 2 or len(groups) == 1:
        return None
    apart = sorted(sorted(f"{refs[i].table} {refs[i].alias}".strip() for i in g) for g in groups)
    return f"{name}: tenant tables not joined on tenant_id: {apart}"
