"""An S3 protocol server on loopback for the tests: moto's server mode, in this
process (a thread), nothing outside the machine. Each test gets a bucket of its own,
versioned: a deletion must then remove every version and delete marker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from server.s3_blobs import S3BlobStore, s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

REGION = "us-east-1"


def aws_env(endpoint: str) -> dict[str, str]:
    """The standard AWS variables that point a client at the test server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """A ThreadedMotoServer on a free loopback port; its endpoint URL, with the AWS
    variables set in os.environ meanwhile (so processes started by tests get them)."""
    from moto.server import ThreadedMotoServer

    from tests.helpers.processes import free_port

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in aws_env(endpoint)}
    os.environ.update(aws_env(endpoint))
    try:
        yield endpoint
    finally:
        _restore(saved)
        server.stop()


def _restore(saved: Mapping[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def new_bucket(client: S3Client, *, versioned: bool = True, object_lock: bool = False) -> str:
    name = f"privacy-test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
    if versioned and not object_lock:  # Object Lock turns versioning on itself
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def new_store(
    *, prefix: str = "blobs", versioned: bool = True, object_lock: bool = False
) -> S3BlobStore:
    client = s3_client()
    bucket = new_bucket(client, versioned=versioned, object_lock=object_lock)
    return S3BlobStore(client, bucket, prefix)


def all_versions(store: S3BlobStore) -> list[tuple[str, str, bool]]:
    """(object name, version id, is a delete marker) of everything in the store's
    bucket: what an erasure must leave none of."""
    found: list[tuple[str, str, bool]] = []
    for page in store.client.get_paginator("list_object_versions").paginate(Bucket=store.bucket):
        found.extend((v["Key"], v["VersionId"], False) for v in page.get("Versions", []))
        found.extend((m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", []))
    return found
