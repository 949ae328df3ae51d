"""The schema and the SQL are ready for Citus, distributed by tenant_id (docs/scaling.md).

Citus cannot be installed here: what is checked is what it would require. The live
catalog after every migration (tests/helpers/citus.py catalog_problems), and each named
query of the packages' .sql files, read statically (query_problem). The exceptions are
the job queue's, listed with their reasons below, and each must still be one: a fixed
exception fails the test until it is taken off the list.
"""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from db.queries import load_queries
from server.database import migrate
from tests.helpers.citus import catalog_problems, query_problem, tenant_tables
from tests.helpers.database import with_database

PACKAGES = ("server", "anonymizers")  # as tests/unit/test_query_names.py walks them
NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)

# The job queue stays on the coordinator, as local tables (docs/scaling.md, "The job
# queue"): workers lease the most urgent job of any tenant with FOR UPDATE SKIP
# LOCKED, which Citus runs on no distributed table. privacy_jobs is keyed by its
# uuid, which the API, the leases and its children (tasks, identifiers, reviews)
# name it by; the children carry no tenant_id (tasks, identifiers) or are keyed by
# job (reviews, whose ON CONFLICT (job_id, data_type, file_id) needs that key).
CATALOG_EXCEPTIONS = {
    "privacy_jobs: primary key (id) does not start with tenant_id",
    "privacy_job_reviews: primary key (job_id, data_type, file_id) does not start with tenant_id",
    "privacy_job_reviews: foreign key privacy_job_reviews_job_id_fkey (job_id) ->"
    " privacy_jobs (id) does not pair tenant_id with tenant_id",
    "privacy_job_tasks: foreign key privacy_job_tasks_job_id_fkey (job_id) ->"
    " privacy_jobs (id) does not pair tenant_id with tenant_id",
    "privacy_job_identifiers: foreign key privacy_job_identifiers_job_id_fkey (job_id) ->"
    " privacy_jobs (id) does not pair tenant_id with tenant_id",
}

# The lease reads every tenant's open jobs at once (that is what a shared queue is);
# all of privacy_jobs, local on the coordinator, so no shard is crossed.
QUERY_EXCEPTIONS = {
    "queries.sql:lease_next_job: tenant tables not joined on tenant_id:"
    " [['privacy_jobs j'], ['privacy_jobs j'], ['privacy_jobs privacy_jobs']]",
}

# Tables without tenant_id: global, never distributed (reference or coordinator-local
# tables in docs/scaling.md). A new one must be placed there.
GLOBAL_TABLES = {
    "privacy_credentials",
    "privacy_job_cancel_requests",
    "privacy_job_identifiers",
    "privacy_job_tasks",
    "schema_migrations",
}


def named_queries() -> dict[str, str]:
    """Every named query of the packages' .sql files, as "file:name" -> SQL."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for root in map(Path, importlib.import_module(package).__path__):
            for path in sorted(root.rglob("*.sql")):
                if not NAME_LINE.search(path.read_text(encoding="utf-8")):
                    continue  # a migration
                module = ".".join(path.parent.relative_to(root.parent).parts)
                for name, sql in load_queries(module, path.name).items():
                    found[f"{path.name}:{name}"] = sql
    return found


async def test_the_schema_keys_every_tenant_table_on_tenant_id(db: asyncpg.Connection) -> None:
    assert await catalog_problems(db) == CATALOG_EXCEPTIONS


async def test_the_tables_without_tenant_id_are_the_global_ones(db: asyncpg.Connection) -> None:
    tenant, global_ = await tenant_tables(db)
    assert global_ == GLOBAL_TABLES
    assert {"tenants", "contacts", "privacy_jobs", "privacy_audit_log"} <= tenant


async def test_every_query_joins_its_tenant_tables_on_tenant_id(db: asyncpg.Connection) -> None:
    tenant, _ = await tenant_tables(db)
    queries = named_queries()
    assert len(queries) > 100, "named queries not found: have the .sql files moved?"
    problems = {p for name, sql in queries.items() if (p := query_problem(name, sql, tenant))}
    assert problems == QUERY_EXCEPTIONS


TENANT = {"contacts", "deals", "notes", "privacy_jobs", "privacy_suppressions"}


@pytest.mark.parametrize(
    "sql",
    [
        # One tenant's rows, each table pinned to the same parameter: a router query.
        "SELECT 1 FROM contacts c JOIN deals d ON d.tenant_id = $1 AND d.contact_id = c.id"
        " WHERE c.tenant_id = $1",
        # Joined on tenant_id, wherever the tenant comes from.
        "SELECT 1 FROM contacts c JOIN deals d ON d.tenant_id = c.tenant_id"
        " AND d.contact_id = c.id",
        "SELECT 1 FROM contacts c JOIN deals d USING (tenant_id) WHERE c.id = d.contact_id",
        # Subqueries and CTEs: a bare tenant_id is the column of its own FROM.
        "WITH n AS (DELETE FROM notes WHERE tenant_id = $1 AND contact_id = ANY($2))"
        " SELECT (SELECT count(*) FROM deals WHERE tenant_id = $1), count(*) FROM contacts"
        " WHERE tenant_id = $1",
        # An INSERT's tenant_id taken from the row it copies.
        "INSERT INTO notes (tenant_id, contact_id, body) SELECT c.tenant_id, c.id, ''"
        " FROM contacts c WHERE c.id = $2",
        "INSERT INTO notes (body, tenant_id) SELECT '', $1 FROM deals WHERE tenant_id = $1",
        # One tenant table only: nothing to join.
        "SELECT 1 FROM contacts WHERE id = $1",
    ],
)
def test_the_query_check_passes_queries_joined_on_tenant_id(sql: str) -> None:
    assert query_problem("q", sql, TENANT) is None


@pytest.mark.parametrize(
    ("sql", "apart"),
    [
        # Joined on the id alone: a deal of another tenant's shard.
        (
            "SELECT 1 FROM contacts c JOIN deals d ON d.contact_id = c.id WHERE c.tenant_id = $1",
            "[['contacts c'], ['deals d']]",
        ),
        # Two tenants.
        (
            "SELECT 1 FROM contacts c, deals d WHERE c.tenant_id = $1 AND d.tenant_id = $2",
            "[['contacts c'], ['deals d']]",
        ),
        # The sweep's join as it was before this check: by job id only.
        (
            "SELECT 1 FROM privacy_suppressions s LEFT JOIN privacy_jobs j ON j.id = s.job_id"
            " WHERE s.tenant_id = $1",
            "[['privacy_jobs j'], ['privacy_suppressions s']]",
        ),
        # The tenant in a subquery does not pin the statement around it.
        (
            "DELETE FROM notes WHERE id = ANY(ARRAY(SELECT id FROM notes WHERE tenant_id = $1))",
            "[['notes notes'], ['notes notes']]",
        ),
        # An INSERT of one tenant's key from another's rows.
        (
            "INSERT INTO notes (tenant_id, body) SELECT $2, '' FROM deals WHERE tenant_id = $1",
            "[['deals deals'], ['notes notes']]",
        ),
    ],
)
def test_the_query_check_fails_queries_not_joined_on_tenant_id(sql: str, apart: str) -> None:
    assert query_problem("q", sql, TENANT) == f"q: tenant tables not joined on tenant_id: {apart}"


@pytest.fixture
async def scratch(server_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own, migrated, for migrations that must not reach the others."""
    name = f"citus_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate(conn)
            yield conn
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# A migration as it should not be written: every rule broken once.
BROKEN_MIGRATION = """
CREATE TABLE contact_tags (
    id          bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id   text NOT NULL,
    contact_id  bigint NOT NULL,
    tag         text NOT NULL,
    PRIMARY KEY (id, tenant_id)
);
CREATE UNIQUE INDEX contact_tags_tag_idx ON contact_tags (contact_id, tag) WHERE tag <> '';
CREATE TABLE tag_colours (tag_id bigint PRIMARY KEY, colour text NOT NULL);
ALTER TABLE contacts ADD UNIQUE (id);
ALTER TABLE contact_tags ADD FOREIGN KEY (contact_id) REFERENCES contacts (id);
CREATE TABLE tag_events (tenant_id text NOT NULL, at timestamptz NOT NULL);
"""


async def test_the_catalog_check_fails_a_broken_migration(scratch: asyncpg.Connection) -> None:
    await scratch.execute(BROKEN_MIGRATION)
    assert await catalog_problems(scratch) - CATALOG_EXCEPTIONS == {
        "contact_tags: primary key (id, tenant_id) does not start with tenant_id",
        "contact_tags: unique index contact_tags_tag_idx (contact_id, tag)"
        " does not include tenant_id",
        "contacts: unique index contacts_id_key (id) does not include tenant_id",
        "contact_tags: foreign key contact_tags_contact_id_fkey (contact_id) -> contacts (id)"
        " does not pair tenant_id with tenant_id",
        "tag_events: no primary key",
    }
