"""`privacyctl serve` and its gRPC address, as real processes: a second server on an
address in use refuses to start (gRPC's SO_REUSEPORT would let it share the port), and
an address that is no address is a message naming PRIVACY_GRPC_ADDR, not a traceback."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from console.exit_codes import EXIT_CONFIG
from tests.helpers import processes


async def test_a_second_server_on_an_address_in_use_refuses_to_start(
    db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    port = processes.free_port()
    env = processes.env(db_url, blob_dir, PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}")
    first = await processes.start(["serve"], env, tmp_path / "first.log")
    try:
        await processes.wait_serving(port)
        second = await processes.run_apart(["serve"], env)
        assert second.code == EXIT_CONFIG, second
        assert (
            f"privacyctl: cannot listen on '127.0.0.1:{port}' (PRIVACY_GRPC_ADDR): "
            "Address already in use (another privacyctl serve?)"
        ) in second.err, second.err
        assert "Traceback" not in second.err
        assert first.returncode is None  # the first one serves on, alone
        await processes.wait_serving(port)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 30) == 0
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()


async def test_an_address_that_is_none_names_the_variable(db_url: str, blob_dir: Path) -> None:
    for address, why in (
        ("nonsense", "not host:port (e.g. 127.0.0.1:50051)"),
        ("192.0.2.1:50051", "Cannot assign requested address"),  # TEST-NET-1: not ours
    ):
        ran = await processes.run_apart(
            ["serve"], processes.env(db_url, blob_dir, PRIVACY_GRPC_ADDR=address)
        )
        assert ran.code == EXIT_CONFIG, ran
        assert f"privacyctl: cannot listen on '{address}' (PRIVACY_GRPC_ADDR): {why}" in ran.err
        assert "Traceback" not in ran.err
