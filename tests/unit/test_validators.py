"""Every validator of request values: a value with a control character anywhere,
a trailing newline above all (which a pattern's `$` lets through), is refused
naming its field, while the same value without it is accepted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizers.registry import default_registry
from anonymizers.text.devices import generalize_user_agent
from atomicrm.privacy.v1 import privacy_pb2 as pb
from server import validation
from server.errors import InvalidArgument
from server.job_model import JobKind

REGISTRY = default_registry()
EMAIL = pb.Subject(email="jane@example.com")


def _erase(**fields: str) -> object:
    request = pb.EraseRequest(tenant_id="acme", subject=EMAIL)
    for name, value in fields.items():
        setattr(request, name, value)
    return validation.job_request(
        request, JobKind.ERASE, REGISTRY, "tester", max_deadline=timedelta(days=30)
    )


# field -> (the validator, values it accepts)
VALIDATORS: dict[str, tuple[Callable[[str], object], st.SearchStrategy[str]]] = {
    "tenant_id": (
        validation.tenant_id,
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", fullmatch=True),
    ),
    "subject.email": (
        lambda v: validation.subject(pb.Subject(email=v), "acme", True),
        st.sampled_from(["jane@example.com", "J.Doe+crm@mail.example.co.uk", "a@b.co"]),
    ),
    "subject.phone": (
        lambda v: validation.subject(pb.Subject(phone=v), "acme", True),
        st.sampled_from(["+1 (555) 010-2030", "020 7946 0000", "+44.20.7946.0000"]),
    ),
    "subject.whole_tenant.confirm_tenant_id": (
        lambda v: validation.subject(
            pb.Subject(whole_tenant=pb.WholeTenant(confirm_tenant_id=v)), "acme", True
        ),
        st.just("acme"),
    ),
    "idempotency_key": (
        lambda v: _erase(idempotency_key=v),
        st.from_regex(r"[A-Za-z0-9:_-]{1,60}", fullmatch=True),
    ),
    "reason": (
        validation.reason,
        st.sampled_from(["ticket DPO-1234", "customer asked by email", "Art. 17 request"]),
    ),
    "job_id": (validation.job_id, st.uuids().map(str)),
    "hold_id": (validation.hold_id, st.uuids().map(str)),
    "data_types[0]": (
        lambda v: validation.export_request(
            pb.ExportRequest(tenant_id="acme", subject=EMAIL, data_types=[v]), REGISTRY
        ),
        st.sampled_from(REGISTRY.names()),
    ),
}
# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators.
CONTROLS = st.sampled_from(
    [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + ["\u2028", "\u2029"]
)


@st.composite
def spoiled(draw: st.DrawFn) -> tuple[str, str, str]:
    """A validator's field, a value it accepts, and that value with a control character."""
    field = draw(st.sampled_from(sorted(VALIDATORS)))
    good = draw(VALIDATORS[field][1])
    control = draw(CONTROLS)
    at = draw(st.one_of(st.just(len(good)), st.integers(0, len(good))))  # mostly the end
    return field, good, good[:at] + control + good[at:]


@given(spoiled())
def test_a_control_character_is_refused_by_every_validator(case: tuple[str, str, str]) -> None:
    field, good, bad = case
    validate = VALIDATORS[field][0]
    validate(good)  # the value itself is fine
    with pytest.raises(InvalidArgument) as refused:
        validate(bad)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant_id", "acme\n"),
        ("subject.email", "jane@example.com\n"),
        ("subject.email", "jane@example.com\r\n"),
        ("subject.phone", "+1 555 010 2030\n"),
        ("subject.phone", "+1 555 010\t2030"),
        ("idempotency_key", "k1\n"),
        ("reason", "ticket 42\n"),
        ("reason", "ticket 42\x1b[2J"),
        # 32 characters, as uuid.UUID wants once dashes are gone: int() takes the
        # trailing whitespace.
        ("job_id", "6f1c2b1e1f7e4c559d3c0a0b0c0d0e0\n"),
        ("hold_id", "6f1c2b1e1f7e4c559d3c0a0b0c0d0e0\n"),
    ],
)
def test_a_trailing_newline_is_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        VALIDATORS[field][0](value)
    assert refused.value.field == field


def test_a_user_agent_with_a_newline_is_not_taken_as_already_general() -> None:
    assert generalize_user_agent("Chrome on Windows") == "Chrome on Windows"
    assert generalize_user_agent("Chrome on Windows\n") == "Other browser on Windows"
