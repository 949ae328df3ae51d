"""count_rows asks every data type's count in one statement: the same answers as alone."""

from __future__ import annotations

import asyncpg
import pytest

from anonymizers.base import Scope
from anonymizers.counting import count_rows
from anonymizers.registry import default_registry
from server.tenancy import enter_tenant
from tests import factories


@pytest.mark.parametrize("whole_tenant", [False, True])
async def test_one_statement_counts_what_each_query_counts_alone(
    db: asyncpg.Connection, whole_tenant: bool
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=3)
    await factories.contact(db, tenant, "John", "Roe", messages=5)
    scope = Scope(
        tenant_id=tenant,
        contact_ids=() if whole_tenant else (jane.id,),
        user_ids=(),
        whole_tenant=whole_tenant,
    )
    anonymizers = default_registry().ordered()
    async with db.transaction():
        await enter_tenant(db, tenant)
        together = await count_rows(db, anonymizers, scope)
        alone = {}
        for a in anonymizers:
            sql, args = a.count_query(scope)
            alone[a.data_type] = await db.fetchval(sql, *args)
    assert together == alone
    assert together["messages"] == (8 if whole_tenant else 3)
    assert set(together) == {a.data_type for a in anonymizers}
