"""The client's and privacyctl's side of the suppression list, against a stand-in
for the service that speaks the contract (no database: the real handlers are
tested through the server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.account_deletion import AccountDeletion
from clients.client import (
    Answer,
    PrivacyClient,
    PrivacyClientError,
    email,
    phone,
    subject,
)
from console import privacyctl

SERVICE = "atomicrm.privacy.v1.PrivacyService"
HASH = "ab" * 32  # a hex keyed hash, as ListSuppressions shows one


@dataclass
class StandIn:
    """Answers the suppression RPCs (and Erase) as the contract says, by plain
    values; records every request."""

    suppressed: set[str] = field(default_factory=set)
    requests: list[Any] = field(default_factory=list)
    entries: int = 5  # ListSuppressions has this many

    @staticmethod
    def _key(identifier: pb.Identifier) -> str | None:
        if identifier.HasField("email"):
            return identifier.email.casefold() if "@" in identifier.email else None
        digits = "".join(c for c in identifier.phone if c.isdigit())
        return digits if len(digits) >= 7 else None

    async def check(
        self, request: pb.CheckSuppressionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CheckSuppressionResponse:
        self.requests.append(request)
        keys = [self._key(i) for i in request.identifiers]
        return pb.CheckSuppressionResponse(
            suppressed=[k is not None and k in self.suppressed for k in keys],
            invalid=[i for i, k in enumerate(keys) if k is None],
        )

    async def suppress(
        self, request: pb.SuppressRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SuppressResponse:
        self.requests.append(request)
        keys = {self._key(i) for i in request.identifiers}
        if None in keys:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "identifiers: not valid")
        new = {k for k in keys if k is not None} - self.suppressed
        self.suppressed |= new
        return pb.SuppressResponse(added=len(new))

    async def unsuppress(
        self, request: pb.UnsuppressRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.UnsuppressResponse:
        self.requests.append(request)
        if request.reason_code == pb.REASON_CODE_UNSPECIFIED:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "reason_code: required")
        keys = {self._key(i) for i in request.identifiers} & self.suppressed
        self.suppressed -= {k for k in keys if k is not None}
        return pb.UnsuppressResponse(removed=len(keys))

    async def listing(
        self, request: pb.ListSuppressionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListSuppressionsResponse:
        self.requests.append(request)
        start = int(request.page_token or 0)
        end = min(start + (request.page_size or 100), self.entries)
        page = [
            pb.Suppression(
                identifier_hash=f"{i:02x}" * 32,
                kind="email" if i % 2 else "phone",
                reason_code=pb.REASON_CODE_DATA_SUBJECT_REQUEST,
                job_id="" if i % 2 else f"00000000-0000-4000-8000-{i:012d}",
                actor="dev",
            )
            for i in range(start, end)
        ]
        for entry in page:
            entry.created_at.FromSeconds(1_800_000_000)
        return pb.ListSuppressionsResponse(
            suppressions=page, next_page_token=str(end) if end < self.entries else ""
        )

    async def erase(
        self, request: pb.EraseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Job:
        self.requests.append(request)
        return pb.Job(id=f"job-{len(self.requests)}", state=pb.JOB_STATE_SCHEDULED)

    def handler(self) -> grpc.GenericRpcHandler:
        def unary(call: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
            return grpc.unary_unary_rpc_method_handler(
                call,
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CheckSuppression": unary(
                    self.check, pb.CheckSuppressionRequest, pb.CheckSuppressionResponse
                ),
                "Suppress": unary(self.suppress, pb.SuppressRequest, pb.SuppressResponse),
                "Unsuppress": unary(self.unsuppress, pb.UnsuppressRequest, pb.UnsuppressResponse),
                "ListSuppressions": unary(
                    self.listing, pb.ListSuppressionsRequest, pb.ListSuppressionsResponse
                ),
                "Erase": unary(self.erase, pb.EraseRequest, pb.Job),
            },
        )


@pytest.fixture
async def served() -> AsyncIterator[tuple[StandIn, str]]:
    stand_in = StandIn()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((stand_in.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield stand_in, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_check_answers_each_identifier_in_request_order(
    served: tuple[StandIn, str],
) -> None:
    stand_in, target = served
    stand_in.suppressed = {"ana@example.com", "12125550100"}
    asked = [email("Ana@Example.com"), phone("+1 212 555 0100"), email("nobody"), email("b@x.io")]
    async with PrivacyClient(target) as client:
        result = await client.check_suppression("t1", asked, timeout=5)
    assert result.answers == (
        Answer.SUPPRESSED,
        Answer.SUPPRESSED,
        Answer.INVALID,
        Answer.NOT_SUPPRESSED,
    )
    assert result.suppressed == (True, True, False, False)
    assert result.invalid == frozenset({2})
    assert result.any_suppressed
    assert result.identifiers == tuple(asked)
    sent = stand_in.requests[0]
    assert sent.tenant_id == "t1"
    assert [i.WhichOneof("kind") for i in sent.identifiers] == ["email", "phone", "email", "email"]


async def test_suppress_and_unsuppress_answer_counts_and_errors_are_typed(
    served: tuple[StandIn, str],
) -> None:
    stand_in, target = served
    async with PrivacyClient(target) as client:
        added = await client.suppress(
            "t1",
            [email("a@x.io"), email("A@X.IO"), phone("+44 20 7946 0958")],
            reason_code=pb.REASON_CODE_DATA_SUBJECT_REQUEST,
        )
        assert added == 2
        assert stand_in.requests[-1].reason_code == pb.REASON_CODE_DATA_SUBJECT_REQUEST
        removed = await client.unsuppress(
            "t1", [email("a@x.io")], reason_code=pb.REASON_CODE_OPERATOR_CORRECTION
        )
        assert removed == 1
        with pytest.raises(PrivacyClientError) as refused:
            await client.unsuppress("t1", [email("a@x.io")], reason_code=pb.REASON_CODE_UNSPECIFIED)
        assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT


async def test_list_suppressions_pages_like_list_jobs(served: tuple[StandIn, str]) -> None:
    _, target = served
    async with PrivacyClient(target) as client:
        first = await client.list_suppressions("t1", page_size=3)
        rest = await client.list_suppressions("t1", page_size=3, page_token=first.next_page_token)
    assert len(first.suppressions) == 3
    assert first.next_page_token
    assert len(rest.suppressions) == 2
    assert rest.next_page_token == ""


async def test_erase_suppresses_by_default_and_skips_when_asked(
    served: tuple[StandIn, str],
) -> None:
    stand_in, target = served
    async with PrivacyClient(target) as client:
        await client.erase("t1", subject(contact_id=7))
        await client.erase("t1", subject(contact_id=8), skip_suppression=True)
        # The account-deletion workflow relies on Erase's default.
        await AccountDeletion(client).schedule("t1", 9, last_owner=True)
    erased = [r for r in stand_in.requests if isinstance(r, pb.EraseRequest)]
    assert [r.skip_suppression for r in erased] == [False, True, False, False]


async def _privacyctl(
    capsys: pytest.CaptureFixture[str], target: str, *args: str
) -> tuple[int, str]:
    code = await asyncio.to_thread(privacyctl.main, [*args, "--target", target, "--token", "t"])
    printed = capsys.readouterr()
    return code, printed.out + printed.err  # results on stdout, errors on stderr


async def test_privacyctl_check_prints_one_line_per_identifier(
    served: tuple[StandIn, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in, target = served
    stand_in.suppressed = {"ana@example.com"}
    code, out = await _privacyctl(
        capsys,
        target,
        *("suppression", "check", "--tenant", "t1", "--phone", "+1 212 555 0100"),
        *("--email", "ana@example.com", "--email", "not-an-email"),
    )
    assert code == 0, out
    assert out.splitlines() == [
        "phone +1 212 555 0100: not suppressed",
        "email ana@example.com: suppressed",
        "email not-an-email: invalid",
    ]


async def test_privacyctl_add_remove_and_their_errors(
    served: tuple[StandIn, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in, target = served
    code, out = await _privacyctl(
        capsys,
        target,
        *("suppression", "add", "--tenant", "t1", "--email", "a@x.io", "--email", "b@x.io"),
        *("--reason-code", "data_subject_request"),
    )
    assert code == 0, out
    assert "2 new of 2" in out
    assert stand_in.suppressed == {"a@x.io", "b@x.io"}
    code, out = await _privacyctl(
        capsys,
        target,
        *("suppression", "remove", "--tenant", "t1", "--email", "a@x.io"),
        *("--reason-code", "operator_correction"),
    )
    assert code == 0, out
    assert "1 of 1" in out
    assert stand_in.suppressed == {"b@x.io"}
    # The service's refusal: exit 2, as every privacyctl command.
    code, out = await _privacyctl(
        capsys, target, "suppression", "add", "--tenant", "t1", "--email", "nope"
    )
    assert code == 2
    assert "INVALID_ARGUMENT" in out
    # No identifiers: nothing is asked.
    asked = len(stand_in.requests)
    code, out = await _privacyctl(capsys, target, "suppression", "check", "--tenant", "t1")
    assert code == 64  # a wrong command line
    assert "--email or --phone" in out
    assert len(stand_in.requests) == asked


def test_privacyctl_remove_requires_a_reason_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        privacyctl.main(["suppression", "remove", "--tenant", "t1", "--email", "a@x.io"])
    assert usage.value.code == 64  # a wrong command line, not the service's answer (2)
    assert "--reason-code" in capsys.readouterr().err


async def test_privacyctl_list_prints_whole_hashes_and_job_ids_and_where_to_go_on(
    served: tuple[StandIn, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, target = served
    code, out = await _privacyctl(
        capsys, target, "suppression", "list", "--tenant", "t1", "--limit", "3"
    )
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["identifier_hash", "kind", "created", "reason", "job", "actor"]
    assert lines[1].split() == [
        "00" * 32,
        "phone",
        "2027-01-15T08:00:00+00:00",
        "data_subject_request",
        "00000000-0000-4000-8000-000000000000",
        "dev",
    ]
    assert lines[2].split()[4] == "-"  # suppressed by hand: no job
    assert "3 entries" in lines[4]
    assert lines[5] == "more: privacyctl suppression list --tenant t1 --page-token 3"
    code, out = await _privacyctl(
        capsys,
        target,
        *("suppression", "list", "--tenant", "t1", "--limit", "0", "--page-token", "3"),
    )
    assert code == 0, out
    assert "2 entries" in out
    assert "more:" not in out


async def test_privacyctl_erase_skip_suppression(
    served: tuple[StandIn, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in, target = served
    for extra in ((), ("--skip-suppression",)):
        code, out = await _privacyctl(
            capsys, target, "erase", "--tenant", "t1", "--contact-id", "4", *extra
        )
        assert code == 0, out
    erased = [r for r in stand_in.requests if isinstance(r, pb.EraseRequest)]
    assert [r.skip_suppression for r in erased] == [False, True]
