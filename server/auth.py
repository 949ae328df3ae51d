"""Who is calling: bearer tokens checked before any RPC of the service runs.

The interceptor authenticates every call of PrivacyService and of reflection
(health stays open, for probes), refuses a method whose scope the caller lacks, and makes the caller
known to the handler through `current()`. Tenant checks need the request, so the
handlers make them (`require_tenant`). A method missing from METHOD_SCOPES is
refused for everyone: new RPCs are closed until someone decides who may call them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

import grpc

from db.connection import Connection
from server import credentials
from server.credentials import Caller, Scope
from server.errors import PermissionDenied, Unauthenticated
from server.interceptors import SERVICE, status_for

# Reflection needs a valid token, no scope: it tells the API's shape only.
REFLECTION = "/grpc.reflection."

METHOD_SCOPES: dict[str, Scope] = {
    "Erase": Scope.ERASE,  # whole-tenant also needs Scope.ERASE_TENANT (the handler checks)
    "Anonymize": Scope.ANONYMIZE,
    "Export": Scope.EXPORT,
    "GetJob": Scope.JOBS_READ,
    "ListJobs": Scope.JOBS_READ,
    "WatchJob": Scope.JOBS_READ,
    "CancelJob": Scope.JOBS_CANCEL,
    "SetLegalHold": Scope.HOLD,
    "ReleaseLegalHold": Scope.HOLD,
    "ListLegalHolds": Scope.HOLD,
    "VerifyAuditLog": Scope.AUDIT_READ,
    "CheckSuppression": Scope.SUPPRESSION_READ,
    "ListSuppressions": Scope.SUPPRESSION_READ,
    "Suppress": Scope.SUPPRESSION_WRITE,
    "Unsuppress": Scope.SUPPRESSION_WRITE,
    "FindSubjects": Scope.LOOKUP,
}

# How long a token stays known without a query: revocation takes up to this long.
DEFAULT_CACHE_FOR = timedelta(seconds=5)
_CACHE_LIMIT = 10_000  # tokens; more and the cache starts over

_CALLER: ContextVar[Caller] = ContextVar("privacy_caller")

Acquire = Callable[[], AbstractAsyncContextManager[Connection]]


def current() -> Caller:
    """The caller of the RPC being handled; only the interceptor sets it."""
    try:
        return _CALLER.get()
    except LookupError:
        raise PermissionDenied("no authenticated caller for this call") from None


def require(scope: Scope) -> Caller:
    caller = current()
    if scope not in caller.scopes:
        raise PermissionDenied(f"caller {caller.name!r} lacks the scope {scope.value!r}")
    return caller


def require_tenant(caller: Caller, tenant_id: str) -> None:
    if not caller.may_see(tenant_id):
        raise PermissionDenied(f"caller {caller.name!r} may not act on tenant {tenant_id!r}")


def require_every_tenant(caller: Caller) -> None:
    """Acting on every tenant at once (ListJobs with all_tenants): a credential whose
    tenants include '*' only."""
    if not caller.sees_every_tenant:
        raise PermissionDenied(
            f"caller {caller.name!r} may not list every tenant's jobs: its credential "
            "names tenants, not '*'; name a tenant instead"
        )


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The token of the one "authorization: Bearer <token>" header."""
    values = [value for key, value in metadata or () if key.lower() == "authorization"]
    if not values:
        raise Unauthenticated(
            'no credentials: send "authorization: Bearer <token>" metadata '
            "(privacyctl reads PRIVACY_TOKEN or PRIVACY_DATA_DIR/dev-token)"
        )
    if len(values) > 1:
        # Which one counts would be a guess (a proxy may have added its own in
        # front of the caller's): refuse rather than pick the first.
        raise Unauthenticated(
            'more than one authorization header: send exactly one "authorization: '
            'Bearer <token>" (a channel that adds the token needs none in the call)'
        )
    value = values[0]
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    scheme, _, token = text.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated('the authorization header must be "Bearer <token>"')
    return token.strip()


class Authenticator:
    """Token to caller, through the database, remembered for a few seconds: a query
    per RPC would be a round trip on the hottest path."""

    def __init__(self, acquire: Acquire, cache_for: timedelta = DEFAULT_CACHE_FOR) -> None:
        self._acquire = acquire
        self._cache_for = cache_for.total_seconds()
        self._known: dict[str, tuple[float, Caller]] = {}

    async def caller(self, token: str) -> Caller:
        now = time.monotonic()
        hit = self._known.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._acquire() as conn:
            found = await credentials.authenticate(conn, token)
        if found is None:
            self._known.pop(token, None)
            raise Unauthenticated("the token is unknown or revoked")
        if self._cache_for > 0:
            if len(self._known) >= _CACHE_LIMIT:
                self._known.clear()
            self._known[token] = (now + self._cache_for, found)
        return found


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticate and scope-check every PrivacyService call; inside the service's
    ErrorInterceptor, which turns the refusals into UNAUTHENTICATED/PERMISSION_DENIED."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def _enter(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        caller = await self._authenticator.caller(bearer_token(context.invocation_metadata()))
        scope = METHOD_SCOPES.get(method.rsplit("/", 1)[-1])
        if scope is None:
            raise PermissionDenied("this method is not open to any caller")
        if scope not in caller.scopes:
            raise PermissionDenied(f"caller {caller.name!r} lacks the scope {scope.value!r}")
        # Each RPC runs in its own task, so the caller stays within this call.
        _CALLER.set(caller)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is not None and method.startswith(REFLECTION):
            return self._authenticated_reflection(handler)
        if handler is None or not method.startswith(f"/{SERVICE}/"):
            return handler  # health: balancers and probes carry no token
        if handler.unary_unary is not None:
            inner_unary: Any = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                await self._enter(method, context)
                return await inner_unary(request, context)

            return handler._replace(unary_unary=unary)  # type: ignore[attr-defined,no-any-return]
        if handler.unary_stream is not None:
            inner_stream: Any = handler.unary_stream

            async def stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                await self._enter(method, context)
                async for response in inner_stream(request, context):
                    yield response

            return handler._replace(unary_stream=stream)  # type: ignore[attr-defined,no-any-return]
        # The service has no other kind of method; an unchecked one must not run.
        return None

    def _authenticated_reflection(
        self, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """Reflection describes the API, no data, but still only to a known caller.
        Outside our service the ErrorInterceptor does not map errors: abort here."""
        inner: Any = handler.stream_stream
        if inner is None:
            return None

        async def bidi(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                await self._authenticator.caller(bearer_token(context.invocation_metadata()))
            except Exception as refused:
                await context.abort_with_status(status_for(refused, "reflection"))
            async for response in inner(requests, context):
                yield response

        return handler._replace(stream_stream=bidi)  # type: ignore[attr-defined,no-any-return]
