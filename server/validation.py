"""Turn gRPC requests into validated values; bad input raises InvalidArgument naming the field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from anonymizers.registry import Registry
from anonymizers.text.phones import digits
from atomicrm.privacy.v1 import privacy_pb2 as pb
from server.convert import KIND_FROM_PROTO, REASON_FROM_PROTO, STATE_FROM_PROTO, identifier_of
from server.errors import InvalidArgument
from server.job_model import JobKind, JobRequest, JobState, ReasonCode
from server.subjects import Subject, SubjectKind
from server.suppressions import MAX_IDENTIFIERS, Identifier

MAX_TENANT_ID = 64
MAX_EMAIL = 254  # RFC 5321
MAX_IDEMPOTENCY_KEY = 128
MAX_REASON = 500
MAX_NOTE = 200
MAX_PAGE_SIZE = 500
MAX_SUPPRESSIONS_PAGE = 1000
DEFAULT_SUPPRESSIONS_PAGE = 100
# More names than any registry holds is a mistake or an attack, not a request.
MAX_DATA_TYPES = 64
DEFAULT_PAGE_SIZE = 50
# A deadline a little past the policy's limit is the caller's clock, not a request
# for more time.
CLOCK_SKEW = timedelta(minutes=5)
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 17  # E.164's 15, with an international prefix or a "(0)"

# Patterns are applied with fullmatch, never match + `$`: `$` also matches before a
# final newline, so "acme\n" would pass.
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
_PHONE = re.compile(r"[0-9\s().+\-]+")
_UUID = re.compile(r"[0-9A-Fa-f]{8}(-?[0-9A-Fa-f]{4}){3}-?[0-9A-Fa-f]{12}")
# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
# No identifier, key or reason holds one: a line break or an escape sequence would
# forge lines in logs, listings and terminals, and NUL does not fit a text column.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_MESSAGE = "must not contain control characters (NUL, tabs, line breaks, escapes)"


def tenant_id(value: str, field: str = "tenant_id") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if len(value) > MAX_TENANT_ID or not _TENANT_ID.fullmatch(value):
        raise InvalidArgument(field, f"must be 1-{MAX_TENANT_ID} letters, digits, '_', '.' or '-'")
    return value


def subject(
    request_subject: pb.Subject, tenant: str, has_subject: bool, *, files: bool = False
) -> Subject:
    """`files`: a file id may be the subject (Erase only)."""
    if not has_subject:
        raise InvalidArgument(
            "subject", "is required: set one of contact_id, email, phone, user_id, whole_tenant"
        )
    which = request_subject.WhichOneof("kind")
    if which is None:
        raise InvalidArgument(
            "subject", "is empty: set one of contact_id, email, phone, user_id, whole_tenant"
        )
    if which == "file_id":
        if not files:
            raise InvalidArgument(
                "subject.file_id", "is only for Erase (deleting a file a job listed for review)"
            )
        return _id_subject(SubjectKind.FILE_ID, "subject.file_id", request_subject.file_id)
    if which == "contact_id":
        return _id_subject(SubjectKind.CONTACT_ID, "subject.contact_id", request_subject.contact_id)
    if which == "email":
        return _email_subject(request_subject.email)
    if which == "phone":
        return _phone_subject(request_subject.phone)
    if which == "user_id":
        return _id_subject(SubjectKind.USER_ID, "subject.user_id", request_subject.user_id)
    # A whole tenant: the caller repeats the tenant id, a guard against a wrong one.
    if request_subject.whole_tenant.confirm_tenant_id != tenant:
        raise InvalidArgument(
            "subject.whole_tenant.confirm_tenant_id",
            "must repeat tenant_id to act on the whole tenant",
        )
    return Subject(SubjectKind.WHOLE_TENANT, tenant)


def _id_subject(kind: SubjectKind, field: str, value: int) -> Subject:
    if value <= 0:
        raise InvalidArgument(field, "must be a positive id")
    return Subject(kind, str(value))


def _email_subject(value: str, field: str = "subject.email") -> Subject:
    # Spaces around it are a copy-and-paste slip, trimmed; a control character
    # anywhere (a final line break too) is refused.
    email = value.strip()
    if _CONTROL.search(value) or len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise InvalidArgument(field, "is not an email address")
    return Subject(SubjectKind.EMAIL, email.lower())


def _phone_subject(phone: str, field: str = "subject.phone") -> Subject:
    number = digits(phone)
    if (
        not _PHONE.fullmatch(phone)
        or _CONTROL.search(phone)
        or not MIN_PHONE_DIGITS <= len(number) <= MAX_PHONE_DIGITS
    ):
        raise InvalidArgument(
            field,
            f"is not a phone number ({MIN_PHONE_DIGITS}-{MAX_PHONE_DIGITS} digits, "
            "with optional +, spaces, dashes, dots or parentheses)",
        )
    # Read in the tenant's region (Subject.in_region) once the tenant is known.
    return Subject(SubjectKind.PHONE, phone.strip())


def lookup_request(request: pb.FindSubjectsRequest) -> tuple[str, Subject]:
    """FindSubjects' tenant and subject: an email, or a phone number (read in the
    tenant's region once the tenant is known)."""
    tenant = tenant_id(request.tenant_id)
    which = request.identifier.WhichOneof("kind")
    if which is None:
        raise InvalidArgument("identifier", "is required: set email or phone")
    if which == "email":
        return tenant, _email_subject(request.identifier.email, "identifier.email")
    return tenant, _phone_subject(request.identifier.phone, "identifier.phone")


def all_tenants(tenant: str) -> None:
    """ListJobs with all_tenants names no tenant."""
    if tenant:
        raise InvalidArgument("tenant_id", "must be empty with all_tenants")


def job_request(
    request: pb.EraseRequest | pb.AnonymizeRequest,
    kind: JobKind,
    registry: Registry,
    requested_by: str,
    *,
    max_deadline: timedelta,
    now: datetime | None = None,
) -> JobRequest:
    """`max_deadline`: the policy's limit from the request time (30 days)."""
    tenant = tenant_id(request.tenant_id)
    subj = subject(
        request.subject, tenant, request.HasField("subject"), files=kind is JobKind.ERASE
    )
    data_types = _data_types(request.data_types, registry)
    if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument("idempotency_key", f"is longer than {MAX_IDEMPOTENCY_KEY}")
    if _CONTROL.search(request.idempotency_key):
        raise InvalidArgument("idempotency_key", _CONTROL_MESSAGE)
    code, note = _reason(request)
    now = now or datetime.now(UTC)
    not_before = _timestamp(request, "not_before")
    deadline = _timestamp(request, "deadline")
    if deadline is not None:
        if deadline <= now:
            raise InvalidArgument("deadline", "is in the past; leave it unset for the default")
        if deadline > now + max_deadline + CLOCK_SKEW:
            raise InvalidArgument(
                "deadline",
                f"is more than {max_deadline.days} days away; the privacy policy "
                "(section 8) allows no longer",
            )
    if not_before is not None and deadline is not None and not_before >= deadline:
        raise InvalidArgument("not_before", "must be before the deadline")
    if not_before is not None and deadline is None and not_before >= now + max_deadline:
        # Say which deadline: the caller gave none and may not know the default.
        default = (now + max_deadline).isoformat(timespec="minutes")
        raise InvalidArgument(
            "not_before",
            f"must be before the deadline; none was given, so it is the default, "
            f"the request time + {max_deadline.days} days ({default}), the latest the "
            "privacy policy allows: not_before must be earlier (and a deadline, if "
            "given, after it)",
        )
    return JobRequest(
        tenant_id=tenant,
        kind=kind,
        subject=subj,
        data_types=data_types,
        dry_run=request.dry_run,
        idempotency_key=request.idempotency_key or None,
        reason_code=code,
        note=note,
        requested_by=requested_by,
        not_before=not_before,
        deadline=deadline,
        under_16=request.subject_under_16,
        consistent_across_jobs=(
            isinstance(request, pb.AnonymizeRequest) and request.consistent_across_jobs
        ),
        skip_suppression=isinstance(request, pb.EraseRequest) and request.skip_suppression,
    )


def _reason(request: pb.EraseRequest | pb.AnonymizeRequest) -> tuple[ReasonCode, str]:
    """The reason code and the note; the deprecated free-text `reason` is a note."""
    code = REASON_FROM_PROTO.get(request.reason_code)
    if code is None:
        raise InvalidArgument("reason_code", "is not one of the ReasonCode values")
    legacy = request.reason  # deprecated field, accepted for one version
    if legacy and request.note:
        raise InvalidArgument("reason", "is deprecated: set note (and reason_code), not both")
    if request.note:
        note = _one_line("note", request.note, MAX_NOTE)
    else:
        note = _one_line("reason", legacy, MAX_REASON)  # what the old field allowed
    if legacy and code is ReasonCode.UNSPECIFIED:
        code = ReasonCode.OTHER
    return code, note.strip()


def _timestamp(
    request: pb.EraseRequest | pb.AnonymizeRequest, field: Literal["not_before", "deadline"]
) -> datetime | None:
    if not request.HasField(field):
        return None
    try:
        return getattr(request, field).ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]
    except (ValueError, OverflowError):
        raise InvalidArgument(field, "is not a valid timestamp") from None


def reason(value: str, *, required: bool = False) -> str:
    if required and not value.strip():
        raise InvalidArgument("reason", "is required: name the legal matter or ticket")
    return _one_line("reason", value, MAX_REASON)


def _one_line(field: str, value: str, limit: int) -> str:
    """Free text a caller gives (a hold's reason, a job's note): bounded, and one line,
    since it is shown in listings."""
    if len(value) > limit:
        raise InvalidArgument(field, f"is longer than {limit} characters; keep it short")
    if _CONTROL.search(value):
        raise InvalidArgument(field, _CONTROL_MESSAGE)
    return value


@dataclass(frozen=True)
class HoldRequest:
    tenant_id: str
    subject: Subject
    reason: str


def hold_request(request: pb.SetLegalHoldRequest) -> HoldRequest:
    tenant = tenant_id(request.tenant_id)
    subj = subject(request.subject, tenant, request.HasField("subject"))
    return HoldRequest(tenant, subj, reason(request.reason, required=True))


def hold_id(value: str) -> uuid.UUID:
    if not value:
        raise InvalidArgument("hold_id", "is required")
    if not _UUID.fullmatch(value):
        raise InvalidArgument("hold_id", "is not a legal hold id (a UUID)")
    return uuid.UUID(value)


@dataclass(frozen=True)
class ExportQuery:
    tenant_id: str
    subject: Subject
    data_types: tuple[str, ...]


def export_request(request: pb.ExportRequest, registry: Registry) -> ExportQuery:
    tenant = tenant_id(request.tenant_id)
    subj = subject(request.subject, tenant, request.HasField("subject"))
    if request.format not in (pb.EXPORT_FORMAT_UNSPECIFIED, pb.EXPORT_FORMAT_NDJSON):
        raise InvalidArgument("format", "is not an ExportFormat; use EXPORT_FORMAT_NDJSON")
    return ExportQuery(tenant, subj, _data_types(request.data_types, registry))


def _data_types(names: Iterable[str], registry: Registry) -> tuple[str, ...]:
    given = list(names)
    if len(given) > MAX_DATA_TYPES:
        raise InvalidArgument("data_types", f"has more than {MAX_DATA_TYPES} entries")
    data_types = tuple(dict.fromkeys(given))  # keep order, drop repeats
    for i, name in enumerate(data_types):
        if name not in registry:
            raise InvalidArgument(
                f"data_types[{i}]", f"is not a data type; known: {', '.join(registry.names())}"
            )
    return data_types


def job_id(value: str) -> uuid.UUID:
    if not value:
        raise InvalidArgument("job_id", "is required")
    # The pattern first: uuid.UUID also takes braces, "urn:uuid:" and, through
    # int(), surrounding whitespace.
    if not _UUID.fullmatch(value):
        raise InvalidArgument("job_id", "is not a job id (a UUID)")
    return uuid.UUID(value)


def page_size(value: int) -> int:
    if value < 0 or value > MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
    return value or DEFAULT_PAGE_SIZE


def state(value: int) -> JobState | None:
    if value == pb.JOB_STATE_UNSPECIFIED:
        return None
    found = STATE_FROM_PROTO.get(pb.JobState.ValueType(value))
    if found is None:
        raise InvalidArgument("state", "is not a JobState")
    return found


def kind(value: int) -> JobKind | None:
    if value == pb.JOB_KIND_UNSPECIFIED:
        return None
    found = KIND_FROM_PROTO.get(pb.JobKind.ValueType(value))
    if found is None:
        raise InvalidArgument("kind", "is not a JobKind")
    return found


def identifiers(
    values: Sequence[pb.Identifier], *, required: bool = False
) -> tuple[Identifier, ...]:
    """A suppression RPC's identifiers: at most MAX_IDENTIFIERS, each with its email or
    phone set. Whether each is an email or a phone number is the tenant's to say
    (its region): server/suppression_list.py. `required`: at least one."""
    if len(values) > MAX_IDENTIFIERS:
        raise InvalidArgument(
            "identifiers", f"has {len(values)} entries; at most {MAX_IDENTIFIERS} per call"
        )
    if required and not values:
        raise InvalidArgument("identifiers", "is required: name at least one email or phone")
    found: list[Identifier] = []
    for i, value in enumerate(values):
        identifier = identifier_of(value)
        if identifier is None:
            raise InvalidArgument(f"identifiers[{i}]", "is empty: set email or phone")
        found.append(identifier)
    return tuple(found)


def reason_code(value: int, *, required: bool = False) -> ReasonCode:
    """A suppression's reason code; `required`: not REASON_CODE_UNSPECIFIED."""
    code = REASON_FROM_PROTO.get(pb.ReasonCode.ValueType(value))
    if code is None:
        raise InvalidArgument("reason_code", "is not one of the ReasonCode values")
    if required and code is ReasonCode.UNSPECIFIED:
        raise InvalidArgument(
            "reason_code", "is required: say why (e.g. REASON_CODE_DATA_SUBJECT_REQUEST)"
        )
    return code


def suppressions_page_size(value: int) -> int:
    if value < 0 or value > MAX_SUPPRESSIONS_PAGE:
        raise InvalidArgument("page_size", f"must be between 0 and {MAX_SUPPRESSIONS_PAGE}")
    return value or DEFAULT_SUPPRESSIONS_PAGE
