"""One interceptor maps the service's errors to gRPC status codes with google.rpc details."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from atomicrm.privacy.v1 import privacy_pb2
from server import metrics
from server.errors import (
    AlreadyExists,
    DatabaseUnavailable,
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PrivacyError,
    RateLimited,
    StorageUnavailable,
    Unauthenticated,
)

log = logging.getLogger(__name__)

_SERVICE = privacy_pb2.DESCRIPTOR.services_by_name["PrivacyService"]
SERVICE = _SERVICE.full_name

_CODES: list[tuple[type[PrivacyError], int]] = [
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (DatabaseUnavailable, code_pb2.UNAVAILABLE),
    (StorageUnavailable, code_pb2.UNAVAILABLE),
    (DataLoss, code_pb2.DATA_LOSS),
    (RateLimited, code_pb2.RESOURCE_EXHAUSTED),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
    (PermissionDenied, code_pb2.PERMISSION_DENIED),
]

# Driver errors that mean "the database is not reachable now", not "a bug".
_UNAVAILABLE = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    TimeoutError,
)


def to_status(exc: PrivacyError) -> grpc.Status:
    """The gRPC status for one of our errors, with BadRequest details for bad fields."""
    code = next((c for cls, c in _CODES if isinstance(exc, cls)), code_pb2.INTERNAL)
    status = status_pb2.Status(code=code, message=exc.message)
    if isinstance(exc, InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=exc.field, description=exc.description
                    )
                ]
            )
        )
        status.details.append(detail)
    if isinstance(exc, RateLimited):
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(max(1, math.ceil(exc.retry_after * 1000)))
        retry = any_pb2.Any()
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(retry)
    result: grpc.Status = rpc_status.to_status(status)
    return result


def _translate(exc: Exception) -> PrivacyError | None:
    if isinstance(exc, PrivacyError):
        return exc
    if isinstance(exc, _UNAVAILABLE):
        return DatabaseUnavailable()
    return None


def status_for(exc: Exception, method: str) -> grpc.Status:
    error = _translate(exc)
    if error is None:
        # Only the type: an exception's text can quote personal data.
        log.error("unexpected error", extra={"method": method, "error": type(exc).__name__})
        error = PrivacyError("internal error; the service logged it")
    return to_status(error)


class _Observed:
    """One RPC's metrics: started now, handled with `code` when done."""

    def __init__(self, method: str) -> None:
        self.method = method.rsplit("/", 1)[-1]  # a bounded label: the method's name
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()
        metrics.GRPC_STARTED.labels(grpc_method=self.method).inc()

    def done(self) -> None:
        metrics.GRPC_HANDLED.labels(grpc_method=self.method, grpc_code=self.code.name).inc()
        metrics.GRPC_SECONDS.labels(grpc_method=self.method).observe(
            time.perf_counter() - self.started
        )


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turn PrivacyError (and driver errors) into precise statuses, never leaking
    messages; count and time every call of the service."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        # Only our own service: health and reflection have their own conventions
        # (health's Watch writes through the context instead of yielding).
        if handler is None or not method.startswith(f"/{SERVICE}/"):
            return handler
        if handler.unary_unary is not None:
            inner_unary: Any = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                call = _Observed(method)
                try:
                    return await inner_unary(request, context)
                except grpc.aio.AbortError:
                    call.code = context.code() or grpc.StatusCode.UNKNOWN  # aborted by the handler
                    raise
                except asyncio.CancelledError:
                    call.code = grpc.StatusCode.CANCELLED
                    raise
                except Exception as exc:
                    status = status_for(exc, method)
                    call.code = status.code
                    await context.abort_with_status(status)
                finally:
                    call.done()

            return handler._replace(unary_unary=unary)  # type: ignore[attr-defined,no-any-return]
        if handler.unary_stream is not None:
            inner_stream: Any = handler.unary_stream

            async def stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                call = _Observed(method)
                try:
                    # Closed when this one is, not left to the garbage collector: a
                    # handler's cleanup (an export's audit entry) runs at once.
                    async with aclosing(inner_stream(request, context)) as responses:
                        async for response in responses:
                            yield response
                except grpc.aio.AbortError:
                    call.code = context.code() or grpc.StatusCode.UNKNOWN  # aborted by the handler
                    raise
                except (asyncio.CancelledError, GeneratorExit):
                    call.code = grpc.StatusCode.CANCELLED
                    raise
                except Exception as exc:
                    status = status_for(exc, method)
                    call.code = status.code
                    await context.abort_with_status(status)
                finally:
                    call.done()

            return handler._replace(unary_stream=stream)  # type: ignore[attr-defined,no-any-return]
        return handler


@dataclass(frozen=True)
class Undecodable:
    """Bytes that are no request message, in the place of the request: refused
    (InvalidArgument) inside the interceptors, once the caller is authenticated."""

    message_type: str
    utf8: bool  # a string field is not UTF-8 (else: not the message's encoding)

    def error(self) -> InvalidArgument:
        problem = (
            "a string field is not valid UTF-8"
            if self.utf8
            else "the bytes are not a protobuf encoding of it"
        )
        # No field is named: which one is broken is not known once parsing fails.
        return InvalidArgument(
            "",
            f"the request is not a valid {self.message_type}: {problem}; "
            "send a message built from the service's .proto",
        )


class RequestInterceptor(grpc.aio.ServerInterceptor):
    """Requests of the service that do not parse become INVALID_ARGUMENT.

    gRPC parses a request with the handler's deserializer before it calls the
    handler (and so the other interceptors' wrappers); a parse error there answers
    UNKNOWN, ahead of authentication and of the metrics. So the deserializer is
    wrapped: a DecodeError gives `Undecodable`, which the
    handler chain refuses. Innermost of the interceptors: AuthInterceptor has
    checked the caller (no valid token: UNAUTHENTICATED) and ErrorInterceptor
    counts the call and maps the refusal.
    """

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(f"/{SERVICE}/"):
            return handler
        found = _SERVICE.methods_by_name.get(method.rsplit("/", 1)[-1])
        parse: Any = handler.request_deserializer
        if found is None or parse is None:
            return handler
        message_type = found.input_type.full_name

        def deserialize(raw: bytes) -> Any:
            try:
                return parse(raw)
            except DecodeError as exc:
                # The parser's text names the message type and the problem, no value.
                return Undecodable(message_type, utf8="UTF-8" in str(exc))

        if handler.unary_unary is not None:
            inner_unary: Any = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                if isinstance(request, Undecodable):
                    raise request.error()
                return await inner_unary(request, context)

            return handler._replace(  # type: ignore[attr-defined,no-any-return]
                request_deserializer=deserialize, unary_unary=unary
            )
        if handler.unary_stream is not None:
            inner_stream: Any = handler.unary_stream

            async def stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                if isinstance(request, Undecodable):
                    raise request.error()
                async for response in inner_stream(request, context):
                    yield response

            return handler._replace(  # type: ignore[attr-defined,no-any-return]
                request_deserializer=deserialize, unary_stream=stream
            )
        return handler
