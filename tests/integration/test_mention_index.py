"""The mention index (migration 0006) finds every row the regex scan found.

A mentions step used to scan the tenant's free text with a regex prefilter; it now
asks the index first (privacy_mention_tokens @@ Redactor.sql_tsqueries()) and keeps
the regex and the redactor as the exact filters. That is only the same behaviour
if the index never leaves out a text the redactor would change: checked here over
generated and hand-picked texts, in the database the service uses.
"""

from __future__ import annotations

import html.entities
import json
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from urllib.parse import quote, quote_plus

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonymizers.base import Batch, Scope, Tools
from anonymizers.registry import default_registry
from anonymizers.text import tokens
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.mentions import TextColumns, redact_batch
from anonymizers.text.normalize import fold
from anonymizers.text.redaction import Redactor
from tests import factories

KEY = b"k" * 32  # a tenant's key, for the lookup's keyed lexemes

EXAMPLES = settings(
    max_examples=int(os.environ.get("PRIVACY_INDEX_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Characters that make tokenizing hard: non-ASCII letters (two of which lower-case
# to ASCII), digits of another script, apostrophes, separators of every kind.
_TRICKY = "\u0130\u212a\u0307éßØ\u674e\u0416\u0663\u00a0\u2019'_.-+@()/:;,#\n\t "
_FILLER = st.text(alphabet=st.sampled_from("abcxyzJDK0123456789" + _TRICKY), min_size=0, max_size=6)
_WORD = st.text(alphabet=st.sampled_from("abcdejkoszéø\u0130\u212a\u2019'"), min_size=1, max_size=6)


def _cased(value: str, flips: list[bool]) -> str:
    out = []
    for c, flip in zip(value, flips + [False] * len(value), strict=False):
        if flip and c == "k":
            out.append("\u212a")  # KELVIN SIGN: its lower() is "k"
        else:
            out.append(c.upper() if flip else c)
    return "".join(out)


@st.composite
def identifiers(draw: st.DrawFn) -> Identifiers:
    first, last = draw(_WORD), draw(_WORD)
    local = draw(st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,6}", fullmatch=True))
    domain = draw(st.from_regex(r"[a-z0-9]{1,5}(\.[a-z0-9]{1,4})?", fullmatch=True))
    tld = draw(st.from_regex(r"[a-z]{2,4}", fullmatch=True))
    phone = draw(st.from_regex(r"\+?[0-9]{7,12}", fullmatch=True))
    handle = draw(
        st.one_of(
            st.from_regex(r"@[a-z]{1,6}[0-9]{2}", fullmatch=True),
            st.from_regex(r"visitor-[0-9a-f]{6,12}", fullmatch=True),
            st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True),
        )
    )
    return Identifiers(
        names=(Name(first, last),),
        emails=(f"{local}@{domain}.{tld}",),
        phones=(phone,),
        handles=(handle,),
    )


def _html(text: str, named: bool) -> str:
    def one(c: str) -> str:
        if c.isascii() and c not in "'@":
            return c
        name = html.entities.codepoint2name.get(ord(c))
        return f"&{name};" if named and name else f"&#x{ord(c):x};"

    return "".join(one(c) for c in text)


# How free text hides characters: the normalizer decodes each (normalize.py).
_ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "nfd": lambda t: unicodedata.normalize("NFD", t),
    "nfkc-wide": lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t),
    "html-named": lambda t: _html(t, True),
    "html-numeric": lambda t: _html(t, False),
    "percent": lambda t: quote(t, safe=""),
    "percent-plus": lambda t: "?q=" + quote_plus(t) + "&x",
    "json": lambda t: json.dumps(t)[1:-1],
    "typographic": lambda t: t.replace("'", "\u2019").replace("-", "\u2013"),
}


@st.composite
def mention(draw: st.DrawFn, ids: Identifiers) -> str:
    """One of the identifiers as free text may carry it: any case, form and encoding."""
    written = draw(_written(ids))
    return _ENCODINGS[draw(st.sampled_from(sorted(_ENCODINGS)))](written)


@st.composite
def _written(draw: st.DrawFn, ids: Identifiers) -> str:
    kind = draw(st.sampled_from(["name", "email", "phone", "handle"]))
    flips = draw(st.lists(st.booleans(), max_size=40))
    if kind == "name":
        first, last = ids.names[0].given, ids.names[0].family
        gap = draw(st.sampled_from([" ", "_", ".", "-", "  ", "\n", " - ", "\t", "+"]))
        form = draw(
            st.sampled_from(
                [f"{first}{gap}{last}", f"{last}, {first}", f"Ms. {last}", f"Dr {last}", last]
            )
        )
        return _cased(form, flips)
    if kind == "email":
        return _cased(ids.emails[0], flips)
    if kind == "handle":
        return _cased(ids.handles[0], flips)
    digits = ids.phones[0].lstrip("+")
    out = "+" if draw(st.booleans()) else ""
    if draw(st.booleans()):
        out += draw(st.sampled_from(["1", "44", "1 ", "(1) "]))
    for d in digits:
        out += d + draw(st.sampled_from(["", "", "", " ", "-", ".", ") ", " (", "  "]))
    return out.rstrip(" (.-")


@st.composite
def texts(draw: st.DrawFn) -> tuple[Identifiers, str]:
    ids = draw(identifiers())
    parts = [draw(_FILLER)]
    for _ in range(draw(st.integers(1, 3))):
        parts.append(draw(mention(ids)))
        parts.append(draw(_FILLER))
    return ids, "".join(parts)


# Escapes and characters the two folds (normalize.py, privacy_fold()) must agree on.
_PIECES = st.sampled_from(
    [
        "&eacute;",
        "&Scaron;",
        "&#263;",
        "&#x107;",
        "&amp;",
        "&nbsp;",
        "&bogus;",
        "&#0;",
        "&#xD800;",
        "&#1114112;",
        "&frac12;",
        "%C3%AB",
        "%C5%A0",
        "%E2%80%9C",
        "%20",
        "%40",
        "%2B",
        "%41",
        "%C3",
        "%ED%A0%80",
        "%00",
        "\\u00eb",
        "\\u0160",
        "\\ud83d\\ude00",
        "\\udc00",
        "\\u0041\\udc00",
        "ß",
        "ẞ",
        "Æ",
        "ø",
        "Ł",
        "İ",
        "\u212a",
        "ﬁ",
        "½",
        "\u00ad",
        "\u0301",
        "\u1dc0",
        "Ø",
        "Þ",
        "№",
        "ǅ",
        "²",
        "\u0663",
        "李",
        "Ж",
        "?q=a+b",
    ]
)
_PLAIN = st.text(alphabet="abcxyzABCXYZ0189 .-_'%&#;\\", max_size=4)


@EXAMPLES
@given(text=st.lists(st.one_of(_PIECES, _PLAIN), max_size=12).map("".join))
async def test_the_database_folds_text_as_the_normalizer_does(
    db: asyncpg.Connection, text: str
) -> None:
    # Every ASCII letter and digit run the normalizer sees is one the index sees:
    # the index may hold more (an entity it keeps as written), never fewer.
    sql = await db.fetchval("SELECT privacy_fold($1)", text)
    runs = set(re.findall("[a-z0-9]+", sql))
    assert set(re.findall("[a-z0-9]+", fold(text))) <= runs, (text, sql, fold(text))


async def test_the_html_letters_are_pythons(db: asyncpg.Connection) -> None:
    # The entity table inside privacy_decode_escape() is generated from Python's.
    expected = {
        name[:-1]: fold(value)
        for name, value in html.entities.html5.items()
        if name.endswith(";") and re.search("[a-z0-9]", fold(value))
    }
    for name, folded in expected.items():
        assert await db.fetchval("SELECT privacy_decode_escape($1)", f"&{name};") == folded, name
    assert await db.fetchval("SELECT privacy_decode_escape('&amp;')") == "&amp;"


async def _indexed(db: asyncpg.Connection, text: str, query: list[str]) -> bool:
    found: bool = await db.fetchval(
        "SELECT privacy_mention_tokens(ARRAY[$1]::text[]) @@ ANY($2::tsquery[])", text, query
    )
    return found


async def _check(db: asyncpg.Connection, redactor: Redactor, text: str) -> None:
    query = redactor.sql_tsqueries()
    if query is None:
        return  # the caller scans, as before
    if redactor.find(text):
        assert await _indexed(db, text, query), (text, query)


@EXAMPLES
@given(case=texts())
async def test_every_text_the_redactor_changes_is_found_by_the_index(
    db: asyncpg.Connection, case: tuple[Identifiers, str]
) -> None:
    ids, text = case
    await _check(db, Redactor(ids), text)
    # Each kind alone too: a query of one identifier must still find its text.
    for alone in (
        Identifiers(names=ids.names),
        Identifiers(emails=ids.emails),
        Identifiers(phones=ids.phones),
        Identifiers(handles=ids.handles),
    ):
        await _check(db, Redactor(alone), text)


JANE = Identifiers(
    names=(Name("Jane", "Doe"), Name("Siobhan", "O'Brien"), Name("Kai", "Øster")),
    emails=("jane.doe@example.com", "jd99@mail.example.co.uk"),
    phones=("+1 (555) 010-2030", "5550199"),
    handles=("@janedoe42", "visitor-1234567890ab", "visitor-123456789012"),
)


@pytest.mark.parametrize(
    "text",
    [
        "Met jane doe today",
        "(Jane Doe) said hi",
        "JANE_DOE_contract.pdf",
        "Dear Jane\nDoe,",
        "Siobhan O\u2019Brien called",
        "SIOBHAN o'brien",
        "kai øster",
        "\u212aai Øster",  # KELVIN SIGN lower-cases to k
        "mail Jane.Doe@Example.COM.",
        "<jane.doe@example.com>",
        "jane.doe@example.com5",
        "JD99@mail.example.co.uk",
        "call +1 (555) 010-2030 now",
        "555.010.2030",
        "+15550102030",
        "tel:1-555-010-2030",
        "55 50 10 20 30",
        "555  010  2030",
        "call 555-0199",
        "ref 12 345 555 010 2030 end",  # a long chain around the number
        "Telegram @JaneDoe42!",
        "chat visitor-1234567890AB",
        "visitor-123456789012",
    ],
)
async def test_hand_picked_mentions_are_found(db: asyncpg.Connection, text: str) -> None:
    redactor = Redactor(JANE)
    assert redactor.find(text), text  # the case is a mention at all
    await _check(db, redactor, text)


async def test_a_name_in_another_script_falls_back_to_the_scan() -> None:
    assert Redactor(Identifiers(names=(Name("小龙", "李"),))).sql_tsqueries() is None
    assert Redactor(JANE, everyone=True).sql_tsqueries() is None


async def test_texts_too_big_to_index_are_always_candidates(db: asyncpg.Connection) -> None:
    huge = " ".join(f"w{i}x" for i in range(60_000))  # 60k distinct tokens
    long_word = "a" * 300 + " jane doe"
    query = Redactor(JANE).sql_tsqueries()
    assert query is not None
    assert await _indexed(db, huge, query)
    assert await _indexed(db, long_word, query)
    assert not await _indexed(db, "nothing to see", query)


def _indexed_columns() -> list[TextColumns]:
    from anonymizers.builtin import activity, contacts, files, messages

    found = [
        messages._TEXT,
        contacts._NOTES,
        contacts._DEALS,
        contacts._CONTACTS,
        files._NAMES,
        activity._PAGES,
    ]
    assert all(c.indexed for c in found)
    return found


async def test_the_lookup_uses_the_token_index(db: asyncpg.Connection) -> None:
    # The planner picks by the data's statistics; what must hold whatever the data is
    # that the lookup's query can use the GIN index at all, and no other index.
    source = await db.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'privacy_mention_hits'")
    assert "WITH hits AS MATERIALIZED" in source
    query = Redactor(JANE).sql_tsqueries()
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in await db.fetch(
                # The lookup's query, as privacy_mention_hits() writes it.
                "EXPLAIN WITH hits AS MATERIALIZED (SELECT tenant_id, source, row_id "
                "FROM privacy_text_tokens WHERE tokens @@ ANY($1::tsquery[])) "
                "SELECT row_id FROM hits WHERE tenant_id = 'acme' AND source = 'notes'",
                query,
            )
        )
    assert "Bitmap Index Scan on privacy_text_tokens_idx" in plan, plan


@pytest.mark.parametrize("columns", _indexed_columns(), ids=lambda c: c.table)
async def test_the_indexer_tokenizes_the_columns_the_redactor_reads(
    db: asyncpg.Connection, columns: TextColumns
) -> None:
    # privacy_row_tokens() computes each table's tokens; its expression must cover
    # exactly the columns the anonymizer declares (and redacts).
    source = await db.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'privacy_row_tokens'")
    assert columns.tokens_sql() in source
    trigger = await db.fetchval(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = $1",
        f"{columns.table}_queue_changed_text",
    )
    for column in columns.text + columns.arrays + columns.json:
        assert f"old.{column} IS DISTINCT FROM new.{column}" in trigger, trigger


async def test_the_lookup_sees_only_the_entered_tenant(db: asyncpg.Connection) -> None:
    for tenant in ("acme", "other"):
        await factories.tenant(db, tenant)
        await db.execute(
            "INSERT INTO notes (tenant_id, body) VALUES ($1, 'met Jane Doe'), ($1, 'nothing')",
            tenant,
        )
    queries = tokens.keyed(KEY, Redactor(JANE).sql_tsqueries() or [])
    async with db.transaction():
        await db.execute("SELECT privacy_enter_tenant('acme')")
        ids = await db.fetch(
            "SELECT privacy_mention_hits('notes', 'acme', 0, $1::tsquery[], $2) AS id", queries, KEY
        )
        assert [r["id"] for r in ids] == [1]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.fetch(
                "SELECT privacy_mention_hits('notes', 'other', 0, $1::tsquery[], $2)", queries, KEY
            )
    with pytest.raises(asyncpg.InvalidParameterValueError):
        await db.fetch(
            "SELECT privacy_mention_hits('users', 'acme', 0, $1::tsquery[], $2)", queries, KEY
        )
    async with db.transaction():  # no tenant entered: no tenant's answer
        await db.execute("SET LOCAL ROLE privacy_app")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.fetch(
                "SELECT privacy_mention_hits('notes', 'acme', 0, $1::tsquery[], $2)", queries, KEY
            )


async def test_a_mentions_step_finds_the_same_rows_with_and_without_the_index(
    db: asyncpg.Connection,
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    bodies = [
        "lunch with Jane Doe",
        "nothing here",
        "cc jane.doe@example.com please",
        "ring +1 555 010 2030",
        "Janet Doerr is someone else",
        "JANE_DOE.pdf",
        "jane.doe@example.community is not her",
    ] * 30
    for body in bodies:
        await db.execute(
            "INSERT INTO messages (tenant_id, channel, direction, sender, body) "
            "VALUES ($1, 'email', 'inbound', 'someone@else.org', $2)",
            tenant,
            body,
        )
    registry = default_registry()
    ids = await registry.get("contacts").identifiers(db, Scope(tenant, contact_ids=(jane.id,)))

    async def run(indexed: bool) -> list[str]:
        columns = TextColumns(
            "messages",
            text=("sender", "subject", "body"),
            arrays=("recipients", "cc", "bcc"),
            owner="contact_id",
            indexed=indexed,
        )
        tools = Tools.for_job(
            anonymize=False,
            identifiers=ids,
            whole_tenant=False,
            fakes=Fakes(b"k" * 32),
            read_blobs=_no_blobs,
        )
        async with db.transaction():
            await db.execute("SELECT privacy_enter_tenant($1)", tenant)  # as a worker does
            after, processed = 0, 0
            while True:
                batch = Batch(Scope(tenant, contact_ids=(jane.id,)), "others", after, 7)
                result = await redact_batch(db, columns, batch, tools, rows="others")
                processed += result.processed
                after = result.checkpoint
                if result.finished:
                    break
            bodies_now = [
                r["body"] for r in await db.fetch("SELECT body FROM messages ORDER BY id")
            ]
            assert processed == 4 * 30
            raise _Rollback(bodies_now)

    outcomes = []
    for indexed in (False, True):
        try:
            await run(indexed)
        except _Rollback as done:
            outcomes.append(done.bodies)
    assert outcomes[0] == outcomes[1]
    assert sum("[redacted]" in b for b in outcomes[1]) == 4 * 30


class _Rollback(Exception):
    def __init__(self, bodies: list[str]) -> None:
        super().__init__("roll back")
        self.bodies = bodies


async def _no_blobs(keys: Sequence[str]) -> list[bytes | None]:
    raise AssertionError("no blobs here")


@pytest.mark.parametrize("columns", _indexed_columns(), ids=lambda c: c.table)
async def test_the_rows_found_are_read_by_primary_key(
    db: asyncpg.Connection, columns: TextColumns
) -> None:
    # Not a walk over the tenant's rows joined with the lookup's answer: that made a
    # 29k-row tenant's mentions step 100x slower than a small one's.
    redactor = Redactor(JANE)
    plan = "\n".join(
        r[0]
        for r in await db.fetch(
            f"EXPLAIN {columns.indexed_select_sql()}",
            "acme",
            0,
            100,
            [],
            tokens.keyed(KEY, redactor.sql_tsqueries() or []),
            KEY,
        )
    )
    assert f"Index Scan using {columns.table}_pkey" in plan, plan
    assert "= ANY ($" in plan or "= ANY ((InitPlan" in plan, plan


@pytest.mark.parametrize(
    "columns", [c for c in _indexed_columns() if c.owner], ids=lambda c: c.table
)
async def test_a_subjects_own_rows_are_read_by_the_owners_index(
    db: asyncpg.Connection, columns: TextColumns
) -> None:
    # Not a walk over the tenant's rows in id order until the subject's few are found.
    await factories.tenant(db, "acme")
    await db.execute(
        "INSERT INTO contacts (tenant_id, id, first_name) "
        "SELECT 'acme', g, 'P' || g FROM generate_series(1, 500) g"
    )
    many = {
        "messages": "INSERT INTO messages (tenant_id, contact_id, channel, direction, sender) "
        "SELECT 'acme', g % 500 + 1, 'sms', 'inbound', 'x' FROM generate_series(1, 5000) g",
        "notes": "INSERT INTO notes (tenant_id, contact_id, body) "
        "SELECT 'acme', g % 500 + 1, 'x' FROM generate_series(1, 5000) g",
        "deals": "INSERT INTO deals (tenant_id, contact_id, title) "
        "SELECT 'acme', g % 500 + 1, 'x' FROM generate_series(1, 5000) g",
        "files": "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, "
        "sha256, blob_key) SELECT 'acme', g % 500 + 1, 'x', 'text/plain', 1, 'x', 'k' || g "
        "FROM generate_series(1, 5000) g",
    }
    await db.execute(many[columns.table])
    await db.execute(f"ANALYZE contacts, {columns.table}")
    async with db.transaction():
        await db.execute("SELECT privacy_enter_tenant('acme')")  # as a worker reads
        plan = "\n".join(
            r[0]
            for r in await db.fetch(
                f"EXPLAIN {columns.select_sql('owned')}", "acme", 0, 100, [1, 2]
            )
        )
    assert columns.owner is not None
    assert f"{columns.table}_{columns.owner.removesuffix('_id')}_idx" in plan, plan
