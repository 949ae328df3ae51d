"""The registry of anonymizers: one per data type, duplicates refused."""

from __future__ import annotations

from collections.abc import Iterable

from anonymizers.base import Anonymizer


class DuplicateDataType(ValueError):
    """An anonymizer is already registered for that data type."""


class Registry:
    """Data type name → anonymizer; iterates in processing order (stage, then name)."""

    def __init__(self, anonymizers: Iterable[Anonymizer] = ()) -> None:
        self._by_type: dict[str, Anonymizer] = {}
        for anonymizer in anonymizers:
            self.register(anonymizer)

    def register(self, anonymizer: Anonymizer) -> None:
        """Add an anonymizer; a second one for the same data type is refused."""
        name = anonymizer.data_type
        if name in self._by_type:
            raise DuplicateDataType(f"an anonymizer for {name!r} is already registered")
        self._by_type[name] = anonymizer

    def get(self, data_type: str) -> Anonymizer:
        """Return the anonymizer for a data type (KeyError if none)."""
        return self._by_type[data_type]

    def __contains__(self, data_type: object) -> bool:
        return data_type in self._by_type

    def names(self) -> list[str]:
        """Data type names in processing order."""
        return [a.data_type for a in self.ordered()]

    def ordered(self) -> list[Anonymizer]:
        """Anonymizers in processing order."""
        return sorted(self._by_type.values(), key=lambda a: (a.stage, a.data_type))


def default_registry() -> Registry:
    """A registry with every built-in anonymizer."""
    from anonymizers.builtin.accounts import AccountsAnonymizer
    from anonymizers.builtin.activity import ActivityAnonymizer
    from anonymizers.builtin.contacts import ContactsAnonymizer
    from anonymizers.builtin.files import FilesAnonymizer
    from anonymizers.builtin.messages import MessagesAnonymizer

    return Registry(
        [
            FilesAnonymizer(),
            MessagesAnonymizer(),
            ActivityAnonymizer(),
            ContactsAnonymizer(),
            AccountsAnonymizer(),
        ]
    )
