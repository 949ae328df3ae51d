"""A fake never writes the subject's name back: an address fake that happens to be
named after them ("277 Castillo Crossroad" for Ann Castillo's address, seen in the
zero-residue property test) is drawn again, the same way every time."""

from __future__ import annotations

from anonymizers.text.clear_fakes import clear_of
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.redaction import Redactor

KEY = b"a tenant key"
ANN = Redactor(Identifiers(names=(Name("Ann", "Castillo"),)))


def _an_address_whose_fake_names_her(fakes: Fakes) -> str:
    for i in range(100_000):
        original = f"{i} Main Street, Springfield"
        if "Castillo" in fakes.address(original):
            return original
    raise AssertionError("no address's fake is named after Castillo")


def test_a_fake_that_names_the_subject_is_drawn_again() -> None:
    fakes = Fakes(KEY)
    original = _an_address_whose_fake_names_her(fakes)
    clear = clear_of(ANN, fakes.address, original)
    assert "Castillo" not in clear
    assert clear != fakes.address(original)
    # Deterministic: the same original and key, the same fake.
    assert clear_of(ANN, Fakes(KEY).address, original) == clear


def test_a_fake_clear_of_the_subject_is_kept_as_it_is() -> None:
    fakes = Fakes(KEY)
    original = "12 Harbour Road, Portland"
    assert "Castillo" not in fakes.address(original)
    assert clear_of(ANN, fakes.address, original) == fakes.address(original)
