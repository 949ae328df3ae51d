"""A subject by email or phone (migration 0008): by index under row-level security,
for the entered tenant only, finding what the plain queries found."""

from __future__ import annotations

import asyncpg
import pytest

from server import subjects
from server.errors import InvalidArgument, NotFound
from server.subjects import Subject, SubjectKind
from server.tenancy import enter_tenant
from tests import factories


async def _two_tenants(db: asyncpg.Connection) -> None:
    for tenant in ("acme", "globex"):
        await factories.tenant(db, tenant)
        await db.execute(
            "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone) VALUES "
            "($1, 'Jane', 'Doe', 'Jane.Doe@Example.com', '+1 (555) 010-2030'), "
            "($1, 'Jane', 'Twin', 'jane.doe@example.com', '555.010.2030'), "
            "($1, 'John', 'Roe', 'john@example.com', '+44 20 7946 0958')",
            tenant,
        )
        await db.execute(
            "INSERT INTO users (tenant_id, name, email) "
            "VALUES ($1, 'Jane Doe', 'JANE.DOE@example.com')",
            tenant,
        )


async def _resolve(db: asyncpg.Connection, kind: SubjectKind, value: str) -> subjects.Resolved:
    async with db.transaction():
        await enter_tenant(db, "acme")
        subject = Subject(kind, value).in_region("US")
        return await subjects.resolve(db, "acme", subject, "US")


async def test_email_and_phone_find_every_match_of_the_tenant_only(db: asyncpg.Connection) -> None:
    await _two_tenants(db)
    acme = {
        r["email"]: r["id"]
        for r in await db.fetch("SELECT id, email FROM contacts WHERE tenant_id = 'acme'")
    }
    user = await db.fetchval("SELECT id FROM users WHERE tenant_id = 'acme'")
    jane = await _resolve(db, SubjectKind.EMAIL, "jane.doe@example.com")
    assert jane.contact_ids == (acme["Jane.Doe@Example.com"], acme["jane.doe@example.com"])
    assert jane.user_ids == (user,)
    phone = await _resolve(db, SubjectKind.PHONE, "15550102030")
    assert phone.contact_ids == jane.contact_ids
    assert phone.user_ids == ()
    national = await _resolve(db, SubjectKind.PHONE, "5550102030")
    assert national.contact_ids == jane.contact_ids
    london = await _resolve(db, SubjectKind.PHONE, "+44 (0)20 7946 0958")
    assert london.contact_ids == (acme["john@example.com"],)


async def test_numbers_that_share_national_digits_abroad_are_different_people(
    db: asyncpg.Connection,
) -> None:
    await factories.tenant(db, "acme")
    maine, london = [
        await db.fetchval(
            "INSERT INTO contacts (tenant_id, first_name, phone) VALUES ('acme', $1, $2) "
            "RETURNING id",
            name,
            phone,
        )
        for name, phone in (("Maine", "(207) 946-0958"), ("London", "+44 20 7946 0958"))
    ]
    for written in ("+1 207 946 0958", "207-946-0958", "1 (207) 946 0958", "+12079460958"):
        assert (await _resolve(db, SubjectKind.PHONE, written)).contact_ids == (maine,), written
    for written in (
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "0044 20 7946 0958",
        "011 44 20 7946 0958",
        "+442079460958",
    ):
        assert (await _resolve(db, SubjectKind.PHONE, written)).contact_ids == (london,), written
    with pytest.raises(NotFound):
        await _resolve(db, SubjectKind.PHONE, "+1 207 946 0959")  # a neighbouring number


async def test_a_number_that_is_none_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument, match=r"subject\.phone"):
        Subject(SubjectKind.PHONE, "123 4567 8901 2345 67").in_region("US")


async def test_the_lookups_use_their_indexes_under_row_level_security(
    db: asyncpg.Connection,
) -> None:
    await _two_tenants(db)
    # Enough other rows that reading them all would be the planner's last choice.
    await db.execute(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone) "
        "SELECT 'acme', 'P', 'Q' || g, 'p' || g || '@example.com', '555' || lpad(g::text, 7, '0') "
        "FROM generate_series(1, 3000) g"
    )
    await db.execute("ANALYZE contacts")
    for sql, index in (
        (
            "SELECT id FROM contacts WHERE tenant_id = $1 AND lower(email) = lower($2)",
            "contacts_email_idx",
        ),
        (
            "SELECT id FROM contacts WHERE tenant_id = $1 "
            "AND regexp_replace(phone, '\\D', '', 'g') = ANY(ARRAY[$2])",
            "contacts_phone_idx",
        ),
        (
            "SELECT id FROM contacts WHERE tenant_id = $1 "
            "AND privacy_name_words(first_name, last_name) && ARRAY[$2]",
            "contacts_name_words_idx",
        ),
    ):
        # As the owner, as the functions read: the index.
        plan = "\n".join(r[0] for r in await db.fetch(f"EXPLAIN {sql}", "acme", "x"))
        assert index in plan, plan
        # The same query under privacy_app could not use it: why the functions exist.
        async with db.transaction():
            await enter_tenant(db, "acme")
            plan = "\n".join(r[0] for r in await db.fetch(f"EXPLAIN {sql}", "acme", "x"))
        assert index not in plan, plan


@pytest.mark.parametrize(
    "call",
    [
        "SELECT * FROM privacy_people_by_email($1, 'jane.doe@example.com')",
        "SELECT * FROM privacy_contacts_by_phone($1, ARRAY['5550102030'])",
        "SELECT * FROM privacy_namesakes($1, ARRAY['doe'], '{}', '{}')",
    ],
)
async def test_the_lookups_answer_only_for_the_entered_tenant(
    db: asyncpg.Connection, call: str
) -> None:
    await _two_tenants(db)
    async with db.transaction():
        await enter_tenant(db, "acme")
        assert await db.fetch(call, "acme")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.fetch(call, "globex")
    async with db.transaction():  # no tenant entered: no tenant's answer
        await db.execute("SET LOCAL ROLE privacy_app")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.fetch(call, "acme")


async def test_the_owner_reading_functions_are_for_the_app_role_only(
    db: asyncpg.Connection,
) -> None:
    for function in (
        "privacy_people_by_email(text, text)",
        "privacy_contacts_by_phone(text, text[])",
        "privacy_namesakes(text, text[], bigint[], bigint[])",
        "privacy_mention_hits(text, text, bigint, tsquery[], bytea)",
        "privacy_index_texts(text, text, integer, bytea)",
    ):
        assert await db.fetchval(
            "SELECT has_function_privilege('privacy_app', $1, 'EXECUTE')", function
        )
        # No grant to PUBLIC: a role that can merely connect may not call it.
        acl = await db.fetchval(
            "SELECT proacl::text FROM pg_proc WHERE oid = $1::regprocedure", function
        )
        assert acl is not None
        assert not any(item.startswith("=") for item in acl[1:-1].split(","))
