"""files.rewritten on the tenant's own documents: a mask never breaks a file, and a
document that still names someone is left whole for review."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from anonymizers.base import Tools
from anonymizers.builtin.files import rewritten
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers, Name
from tests.helpers.documents import pdf

_ANN = Identifiers(names=(Name("Ann", "Abbott"),), emails=("ann.abbott0@mail.example",))


async def _no_blobs(keys: Sequence[str]) -> list[bytes | None]:
    raise AssertionError("no blobs here")


def _tools(*, whole_tenant: bool) -> Tools:
    return Tools.for_job(
        anonymize=True,
        identifiers=_ANN,
        whole_tenant=whole_tenant,
        fakes=Fakes(b"k" * 32),
        read_blobs=_no_blobs,
    )


@pytest.mark.parametrize("whole_tenant", [False, True])
def test_an_own_pdf_whose_text_is_compressed_is_left_whole_for_review(whole_tenant: bool) -> None:
    # A whole tenant's redactor takes any phone-like digits: "0 0 612 792" of the
    # MediaBox, the xref offsets. Masked in place they broke the file, which then read
    # as nothing and was reported clean (found by the zero-residue property).
    data = pdf(b"BT /F1 12 Tf 72 720 Td (Ann Abbott ann.abbott0@mail.example) Tj ET")
    out = rewritten(
        data, "application/pdf", "about.pdf", _tools(whole_tenant=whole_tenant), own=True
    )
    assert out.review is not None
    assert "cannot be rewritten" in out.review
    assert out.data == data
    assert not out.changed


def test_an_own_uncompressed_pdf_is_masked_and_still_reads() -> None:
    data = pdf(b"BT /F1 12 Tf 72 720 Td (ann.abbott0@mail.example) Tj ET", compress=False)
    out = rewritten(data, "application/pdf", "about.pdf", _tools(whole_tenant=False), own=True)
    assert out.review is None
    assert out.changed
    assert b"ann.abbott0@mail.example" not in out.data
    assert len(out.data) == len(data)  # masked in place: every offset still holds
