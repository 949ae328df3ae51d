"""The service's errors: one root, a default message in each docstring.

Each maps to one gRPC status in server.interceptors. Messages must never carry
personal data: they name fields, not values.
"""

from __future__ import annotations


class PrivacyError(Exception):
    """The privacy service could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidArgument(PrivacyError):
    """A request field is missing or malformed."""

    def __init__(self, field: str, description: str) -> None:
        # No field: the request as a whole (bytes that are no request message).
        super().__init__(f"{field}: {description}" if field else description)
        self.field = field
        self.description = description


class NotFound(PrivacyError):
    """What the request refers to does not exist."""


class FailedPrecondition(PrivacyError):
    """The request cannot be done in the current state."""


class AlreadyExists(PrivacyError):
    """Something with that identity exists already."""


class Unauthenticated(PrivacyError):
    """Call with a valid bearer token: metadata "authorization: Bearer <token>"."""


class PermissionDenied(PrivacyError):
    """This caller may not do that."""


class DatabaseUnavailable(PrivacyError):
    """The database cannot be reached; retry later."""


class NoDatabase(PrivacyError):
    """There is no database to work on: set DATABASE_URL, or PRIVACY_DATA_DIR to the
    directory `privacyctl serve` uses."""


class StorageUnavailable(PrivacyError):
    """The blob store could not be read; retry later."""


class DataLoss(PrivacyError):
    """Stored data is damaged and cannot be used: an operator must repair it."""


class RateLimited(PrivacyError):
    """Too many requests of this kind for this tenant; retry later."""

    def __init__(self, operation: str, retry_after: float) -> None:
        super().__init__(
            f"rate limit for {operation} on this tenant reached; retry in {retry_after:.1f}s"
        )
        self.retry_after = retry_after


class UnknownDataType(PrivacyError):
    """No anonymizer is registered for that data type."""
