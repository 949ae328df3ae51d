"""An async client of PrivacyService that speaks only the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
T = TypeVar("T")
TERMINAL_STATES = frozenset({pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED})


class PrivacyClientError(Exception):
    """A call to the privacy service failed."""

    def __init__(
        self, code: grpc.StatusCode, message: str, field_violations: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        # (field, description) pairs from google.rpc.BadRequest, for INVALID_ARGUMENT.
        self.field_violations = tuple(field_violations)

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> PrivacyClientError:
        violations: list[tuple[str, str]] = []
        status = rpc_status.from_call(error)
        if status is not None:
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    violations.extend((v.field, v.description) for v in bad.field_violations)
        return cls(error.code(), error.details() or "", violations)


def subject(
    *,
    contact_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    user_id: int | None = None,
    whole_tenant: str | None = None,
    file_id: int | None = None,
) -> pb.Subject:
    """Build a Subject from exactly one keyword (whole_tenant repeats the tenant id;
    file_id: Erase of one file, as a job's needs_review lists them)."""
    given = [v for v in (contact_id, email, phone, user_id, whole_tenant, file_id) if v is not None]
    if len(given) != 1:
        raise ValueError(
            "give exactly one of contact_id, email, phone, user_id, whole_tenant, file_id"
        )
    if file_id is not None:
        return pb.Subject(file_id=file_id)
    if contact_id is not None:
        return pb.Subject(contact_id=contact_id)
    if email is not None:
        return pb.Subject(email=email)
    if phone is not None:
        return pb.Subject(phone=phone)
    if user_id is not None:
        return pb.Subject(user_id=user_id)
    assert whole_tenant is not None
    return pb.Subject(whole_tenant=pb.WholeTenant(confirm_tenant_id=whole_tenant))


def email(value: str) -> pb.Identifier:
    """An email to check or suppress, as received (compared casefolded)."""
    return pb.Identifier(email=value)


def phone(value: str) -> pb.Identifier:
    """A phone number to check or suppress, as received (compared as E.164, read in
    the tenant's region when written without a country code)."""
    return pb.Identifier(phone=value)


# At most this many identifiers per CheckSuppression, Suppress or Unsuppress call.
MAX_IDENTIFIERS = 1000


class Answer(StrEnum):
    """What CheckSuppression says of one identifier."""

    SUPPRESSED = "suppressed"  # must not be stored (or contacted)
    NOT_SUPPRESSED = "not suppressed"
    INVALID = "invalid"  # neither an email nor a phone number


@dataclass(frozen=True)
class SuppressionCheck:
    """CheckSuppression's answers, one per identifier in request order."""

    identifiers: tuple[pb.Identifier, ...]
    suppressed: tuple[bool, ...]
    invalid: frozenset[int]  # indexes (0-based) of identifiers that are no identifier

    def answer(self, index: int) -> Answer:
        if index in self.invalid:
            return Answer.INVALID
        return Answer.SUPPRESSED if self.suppressed[index] else Answer.NOT_SUPPRESSED

    @property
    def answers(self) -> tuple[Answer, ...]:
        return tuple(self.answer(i) for i in range(len(self.identifiers)))

    @property
    def any_suppressed(self) -> bool:
        return any(self.suppressed)


def _with_token(details: grpc.aio.ClientCallDetails, token: str) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()), ("authorization", f"Bearer {token}"))
    return details._replace(metadata=metadata)  # type: ignore[attr-defined,no-any-return]


# Two classes: a channel files an interceptor under its first matching kind only.
class _UnaryBearer(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._token), request)


class _StreamBearer(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._token), request)


class _BidiBearer(grpc.aio.StreamStreamClientInterceptor):
    """For reflection, the one bidirectional service the server offers."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_token(details, self._token), request_iterator)


def open_channel(
    target: str, *, token: str | None = None, tls: grpc.ChannelCredentials | None = None
) -> grpc.aio.Channel:
    """A channel to the service that sends "authorization: Bearer <token>" with
    every call."""
    interceptors: list[grpc.aio.ClientInterceptor] | None = (
        [_UnaryBearer(token), _StreamBearer(token), _BidiBearer(token)] if token else None
    )
    if tls is not None:
        return grpc.aio.secure_channel(target, tls, interceptors=interceptors)
    return grpc.aio.insecure_channel(target, interceptors=interceptors)


class PrivacyClient:
    """Typed async calls; failures raise PrivacyClientError."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        channel: grpc.aio.Channel | None = None,
        tls: grpc.ChannelCredentials | None = None,
    ):
        """`token` authenticates every call; `channel` replaces target, token and tls."""
        self.target = target
        if channel is None:
            channel = open_channel(target, token=token, tls=tls)
        self._channel = channel
        self._stub = privacy_pb2_grpc.PrivacyServiceStub(self._channel)

    async def __aenter__(self) -> PrivacyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def erase(  # noqa: PLR0913 - one keyword per field of EraseRequest
        self,
        tenant_id: str,
        subject: pb.Subject,
        *,
        data_types: Sequence[str] = (),
        dry_run: bool = False,
        idempotency_key: str = "",
        reason_code: pb.ReasonCode.ValueType = pb.REASON_CODE_UNSPECIFIED,
        note: str = "",
        not_before: datetime | None = None,
        deadline: datetime | None = None,
        subject_under_16: bool = False,
        skip_suppression: bool = False,
    ) -> pb.Job:
        """Ask for an erasure; returns the accepted job at once. `note` (a ticket
        reference) is stored redacted of the subject and never audited. The erased
        contact's or user's emails and phone numbers are suppressed from the moment
        the request is accepted, unless `skip_suppression`."""
        request = pb.EraseRequest(
            tenant_id=tenant_id,
            subject=subject,
            data_types=list(data_types),
            dry_run=dry_run,
            idempotency_key=idempotency_key,
            reason_code=reason_code,
            note=note,
            not_before=_timestamp(not_before),
            deadline=_timestamp(deadline),
            subject_under_16=subject_under_16,
            skip_suppression=skip_suppression,
        )
        return await _unary(self._stub.Erase(request))

    async def anonymize(  # noqa: PLR0913 - one keyword per field of AnonymizeRequest
        self,
        tenant_id: str,
        subject: pb.Subject,
        *,
        data_types: Sequence[str] = (),
        dry_run: bool = False,
        idempotency_key: str = "",
        reason_code: pb.ReasonCode.ValueType = pb.REASON_CODE_UNSPECIFIED,
        note: str = "",
        not_before: datetime | None = None,
        deadline: datetime | None = None,
        subject_under_16: bool = False,
        consistent_across_jobs: bool = False,
    ) -> pb.Job:
        """Ask for an anonymization; returns the accepted job at once. Fakes are the
        job's own unless `consistent_across_jobs` (pseudonymization)."""
        request = pb.AnonymizeRequest(
            tenant_id=tenant_id,
            subject=subject,
            data_types=list(data_types),
            dry_run=dry_run,
            idempotency_key=idempotency_key,
            reason_code=reason_code,
            note=note,
            not_before=_timestamp(not_before),
            deadline=_timestamp(deadline),
            subject_under_16=subject_under_16,
            consistent_across_jobs=consistent_across_jobs,
        )
        return await _unary(self._stub.Anonymize(request))

    def export(
        self, tenant_id: str, subject: pb.Subject, *, data_types: Sequence[str] = ()
    ) -> AsyncIterator[pb.ExportChunk]:
        """Stream a subject's data: records, file chunks, then the manifest.

        Leaving the loop early cancels the call; the server stops at once.
        """
        request = pb.ExportRequest(
            tenant_id=tenant_id,
            subject=subject,
            data_types=list(data_types),
            format=pb.EXPORT_FORMAT_NDJSON,
        )
        return _stream(self._stub.Export(request))

    async def get_job(self, job_id: str) -> pb.Job:
        return await _unary(self._stub.GetJob(pb.GetJobRequest(job_id=job_id)))

    async def list_jobs(
        self,
        tenant_id: str,
        *,
        state: pb.JobState.ValueType = pb.JOB_STATE_UNSPECIFIED,
        kind: pb.JobKind.ValueType = pb.JOB_KIND_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
        all_tenants: bool = False,
    ) -> pb.ListJobsResponse:
        """One page of a tenant's jobs, newest first; `all_tenants` (with tenant_id
        ""): every tenant's, for a caller whose credential names the tenant '*'."""
        request = pb.ListJobsRequest(
            tenant_id=tenant_id,
            state=state,
            kind=kind,
            page_size=page_size,
            page_token=page_token,
            all_tenants=all_tenants,
        )
        return await _unary(self._stub.ListJobs(request))

    def watch_job(self, job_id: str) -> AsyncIterator[pb.Job]:
        """Yield the job each time it changes, ending after a terminal state."""
        return _stream(self._stub.WatchJob(pb.WatchJobRequest(job_id=job_id)))

    async def wait_job(self, job_id: str) -> pb.Job:
        """Return the job once it reaches a terminal state."""
        last: pb.Job | None = None
        async for job in self.watch_job(job_id):
            last = job
        assert last is not None
        assert last.state in TERMINAL_STATES
        return last

    async def cancel_job(self, job_id: str) -> pb.Job:
        """Cancel a job; answers at once. A job that was running comes back with
        cancel_requested set: it stops at its next batch boundary."""
        return await _unary(self._stub.CancelJob(pb.CancelJobRequest(job_id=job_id)))

    async def find_subjects(
        self, tenant_id: str, identifier: pb.Identifier
    ) -> pb.FindSubjectsResponse:
        """The ids of the contacts and user accounts `identifier` (`email(...)`,
        `phone(...)`) names in the tenant, matched as Erase matches; audited."""
        request = pb.FindSubjectsRequest(tenant_id=tenant_id, identifier=identifier)
        return await _unary(self._stub.FindSubjects(request))

    async def verify_audit_log(
        self, tenant_id: str, *, timeout: float | None = None
    ) -> pb.VerifyAuditLogResponse:
        request = pb.VerifyAuditLogRequest(tenant_id=tenant_id)
        return await _unary(self._stub.VerifyAuditLog(request, timeout=timeout))

    async def set_legal_hold(
        self, tenant_id: str, subject: pb.Subject, reason: str
    ) -> pb.LegalHold:
        """Hold a subject's (or, with whole_tenant, a tenant's) data from erasure."""
        request = pb.SetLegalHoldRequest(tenant_id=tenant_id, subject=subject, reason=reason)
        return await _unary(self._stub.SetLegalHold(request))

    async def release_legal_hold(self, hold_id: str, reason: str = "") -> pb.LegalHold:
        request = pb.ReleaseLegalHoldRequest(hold_id=hold_id, reason=reason)
        return await _unary(self._stub.ReleaseLegalHold(request))

    async def list_legal_holds(
        self, tenant_id: str, *, include_released: bool = False
    ) -> list[pb.LegalHold]:
        request = pb.ListLegalHoldsRequest(tenant_id=tenant_id, include_released=include_released)
        return list((await _unary(self._stub.ListLegalHolds(request))).holds)

    async def check_suppression(
        self,
        tenant_id: str,
        identifiers: Sequence[pb.Identifier],
        *,
        timeout: float | None = None,
    ) -> SuppressionCheck:
        """Is each identifier (`email(...)`, `phone(...)`; at most MAX_IDENTIFIERS)
        suppressed in the tenant? `timeout` is the call's deadline in seconds. On
        UNAVAILABLE or DEADLINE_EXCEEDED the answer is unknown: hold the records and
        retry, never store them unchecked (docs/suppression.md)."""
        request = pb.CheckSuppressionRequest(tenant_id=tenant_id, identifiers=list(identifiers))
        response = await _unary(self._stub.CheckSuppression(request, timeout=timeout))
        if len(response.suppressed) != len(identifiers):
            raise PrivacyClientError(
                grpc.StatusCode.INTERNAL,
                f"{len(response.suppressed)} answers for {len(identifiers)} identifiers",
            )
        return SuppressionCheck(
            tuple(identifiers), tuple(response.suppressed), frozenset(response.invalid)
        )

    async def suppress(
        self,
        tenant_id: str,
        identifiers: Sequence[pb.Identifier],
        *,
        reason_code: pb.ReasonCode.ValueType = pb.REASON_CODE_UNSPECIFIED,
    ) -> int:
        """Suppress identifiers (each valid; at most MAX_IDENTIFIERS); audited. Answers
        how many entries are new."""
        request = pb.SuppressRequest(
            tenant_id=tenant_id, identifiers=list(identifiers), reason_code=reason_code
        )
        return (await _unary(self._stub.Suppress(request))).added

    async def unsuppress(
        self,
        tenant_id: str,
        identifiers: Sequence[pb.Identifier],
        *,
        reason_code: pb.ReasonCode.ValueType,
    ) -> int:
        """Lift suppressions (the person consents again); the reason code is required
        and audited. Answers how many entries there were."""
        request = pb.UnsuppressRequest(
            tenant_id=tenant_id, identifiers=list(identifiers), reason_code=reason_code
        )
        return (await _unary(self._stub.Unsuppress(request))).removed

    async def list_suppressions(
        self, tenant_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> pb.ListSuppressionsResponse:
        """One page of the tenant's entries, newest first (keyed hashes, never the
        identifiers); next_page_token is empty on the last page."""
        request = pb.ListSuppressionsRequest(
            tenant_id=tenant_id, page_size=page_size, page_token=page_token
        )
        return await _unary(self._stub.ListSuppressions(request))


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


async def _unary(call: Awaitable[T]) -> T:
    """Await a call; its gRPC error becomes a PrivacyClientError."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        raise PrivacyClientError.from_rpc_error(error) from error


async def _stream(call: grpc.aio.UnaryStreamCall[Any, T]) -> AsyncIterator[T]:
    """Iterate a streaming call; its gRPC error becomes a PrivacyClientError."""
    try:
        async for message in call:
            yield message
    except grpc.aio.AioRpcError as error:
        raise PrivacyClientError.from_rpc_error(error) from error
    finally:
        call.cancel()  # a caller that stops early stops the server too
