"""The export as its person gets it, through the real `privacyctl export` against a
real server: a zip whose index.html a real headless Chromium renders (no script, the
person's email, hostile text shown as text, links to the archive's files), one NDJSON
file per kind (notes and deals apart from contacts), and --format."""

from __future__ import annotations

import asyncio
import json
import shutil
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import asyncpg
import jsonschema
import pytest

from console.exit_codes import EXIT_USAGE
from demo.rows import ContactRow, DealRow, FileRow, MessageRow, NoteRow, Plan
from demo.writer import write
from server.blobs import BlobStore
from tests import factories
from tests.helpers import processes

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "export-manifest.schema.json").read_text()
)
EMAIL = "jane.doe@example.com"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_LAST = "\"&'<b>Doe</b>"
HOSTILE_NOTE = "<script>alert(3)</script> called & asked <i>twice</i>"
# A script the page's own Content-Security-Policy must stop, were one ever let in.
INJECTED = "<script>document.body.setAttribute('data-ran', 'yes')</script>"


@dataclass(frozen=True)
class Served:
    env: dict[str, str]


@pytest.fixture
async def served(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, blobs: BlobStore, tmp_path: Path
) -> AsyncIterator[Served]:
    """A `privacyctl serve` over a tenant with Jane: a contact, her notes, a deal, a
    message and a file, with markup and quotes in her data."""
    await factories.tenant(db)
    plan = Plan(
        contacts=[
            ContactRow(
                first_name=HOSTILE_NAME,
                last_name=HOSTILE_LAST,
                email=EMAIL,
                phone="+1 555 010 2030",
                custom_fields=json.dumps({"nickname": "<img src=x onerror=alert(2)>"}),
            )
        ],
        deals=[DealRow(contact=0, title="Renewal <u>2025</u>", amount=Decimal("1250.50"))],
        notes=[NoteRow(contact=0, body=HOSTILE_NOTE), NoteRow(contact=0, body="second note")],
        messages=[
            MessageRow(channel="email", contact=0, direction="inbound", sender=EMAIL, body="hi")
        ],
        files=[FileRow(contact=0, name="cv <final>.txt", content_type="text/plain", data=b"cv")],
    )
    await write(db, blobs, "acme", plan)
    port = processes.free_port()
    env = processes.env(db_url, blob_dir, PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}")
    server = await processes.start(["serve"], env, tmp_path / "serve.log")
    try:
        await processes.wait_serving(port)
        yield Served(env)
    finally:
        server.terminate()
        await server.wait()


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "chromium is not installed: `make test` installs it (`make chromium`: Debian's "
            "chromium package), or put chromium on PATH"
        )
    return path


async def _chromium_run(profile: Path, url: str, *args: str) -> str:
    """Run headless Chromium on `url`; what it printed (the DOM, with --dump-dom)."""
    process = await asyncio.create_subprocess_exec(
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",  # its own profile: tests run side by side
        *args,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode(errors="replace")[-3000:]
    return out.decode()


class _Dom(HTMLParser):
    """The elements, links and text of a page as the browser left it."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[str] = []
        self.metas: list[dict[str, str | None]] = []
        self.body_attrs: dict[str, str | None] = {}
        self._text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a" and (href := dict(attrs).get("href")):
            self.links.append(href)
        if tag == "meta":
            self.metas.append(dict(attrs))
        if tag == "body":
            self.body_attrs = dict(attrs)

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    @property
    def text(self) -> str:
        return "".join(self._text)


def _png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """A PNG's width, height and (filtered) pixel data."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat, size = 8, b"", (0, 0)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    return size[0], size[1], zlib.decompress(idat)


async def test_the_zip_reads_as_a_page_in_a_real_browser(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "jane.zip"
    code, printed = await processes.run(
        ["export", "--tenant", "acme", "--email", EMAIL, "--out", str(out)], served.env
    )
    assert code == 0, printed
    assert "index.html" in printed, printed
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        archive.extractall(unzipped)
    page = unzipped / "index.html"

    # Each kind in a file of its own, as the manifest lists them.
    manifest = json.loads((unzipped / "manifest.json").read_text())
    jsonschema.validate(manifest, SCHEMA)
    assert manifest["tenant_id"] == "acme"
    assert manifest["subject"] == {"email": EMAIL}
    by_path = {r["path"]: r for r in manifest["records"]}
    assert set(by_path) == {
        "contacts.ndjson",
        "notes.ndjson",
        "deals.ndjson",
        "messages.ndjson",
        "files.ndjson",
    }
    for path, entry in by_path.items():
        kinds = [json.loads(line)["kind"] for line in (unzipped / path).read_text().splitlines()]
        assert kinds == [entry["kind"]] * entry["count"], path
    assert (by_path["notes.ndjson"]["count"], by_path["deals.ndjson"]["count"]) == (2, 1)
    assert manifest["record_counts"]["contacts"] == 4  # the contact, two notes, a deal
    assert {"index.html", "manifest.json", *by_path} <= names

    profile = tmp_path / "chromium-profile"
    dom = _Dom(await _chromium_run(profile, page.as_uri(), "--dump-dom"))
    assert "script" not in dom.tags  # hostile names are text, not elements
    assert not {"b", "i", "u", "img"} & set(dom.tags)
    assert EMAIL in dom.text
    for hostile in (HOSTILE_NAME, HOSTILE_LAST, HOSTILE_NOTE, "<img src=x onerror=alert(2)>"):
        assert hostile in dom.text, hostile
    csp = [
        m.get("content") or ""
        for m in dom.metas
        if m.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(csp) == 1
    assert "default-src 'none'" in csp[0]
    assert "script-src" not in csp[0]
    # Every link leads to a file of the archive (or a place on the page).
    files = [f["path"] for f in manifest["files"]]
    assert len(files) == 1
    assert {*by_path, "manifest.json", *files} <= set(dom.links)
    for link in dom.links:
        assert link.startswith("#") or (unzipped / link).is_file(), link

    await _the_policy_stops_scripts(page, profile, tmp_path)
    await _it_renders(page, profile, tmp_path)


async def _the_policy_stops_scripts(page: Path, profile: Path, tmp_path: Path) -> None:
    """The page's policy stops a script in a real browser: one let into the page does
    not run; with the policy taken out it does (so this check can see a script run)."""
    injected, no_policy = _with_a_script(page, tmp_path)
    ran = _Dom(await _chromium_run(profile, injected.as_uri(), "--dump-dom"))
    assert ran.body_attrs.get("data-ran") is None
    control = _Dom(await _chromium_run(profile, no_policy.as_uri(), "--dump-dom"))
    assert control.body_attrs.get("data-ran") == "yes"


def _with_a_script(page: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The page with a script let in: as it is, and with its policy taken out."""
    source = page.read_text().replace("</body>", INJECTED + "</body>")
    injected, no_policy = tmp_path / "injected.html", tmp_path / "no-policy.html"
    injected.write_text(source)
    no_policy.write_text(source.replace("Content-Security-Policy", "x-none"))
    return injected, no_policy


async def _it_renders(page: Path, profile: Path, tmp_path: Path) -> None:
    """A screenshot of the page is a picture of something: not the blank one an
    empty page gives."""
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    shots = []
    for source_page in (page, blank):
        shot = tmp_path / f"{source_page.stem}.png"
        await _chromium_run(
            profile, source_page.as_uri(), f"--screenshot={shot}", "--window-size=1000,800"
        )
        shots.append(_png_pixels(shot.read_bytes()))
    (width, height, pixels), (_, _, blank_pixels) = shots
    assert (width, height) == (1000, 800)
    assert pixels != blank_pixels


def _written(directory: Path, name: str) -> list[Path]:
    """What an export to `name` left in `directory`: the file, or its .partial."""
    return sorted(directory.glob(f"{name}*"))


async def test_the_format_is_chosen_never_guessed(served: Served, tmp_path: Path) -> None:
    export = ["export", "--tenant", "acme", "--email", EMAIL, "--out"]

    # A name that says no format, with none given: a usage error, nothing written.
    text = tmp_path / "jane.txt"
    code, printed = await processes.run([*export, str(text)], served.env)
    assert code == EXIT_USAGE, printed
    assert "--format zip|ndjson" in printed, printed
    assert _written(tmp_path, "jane.txt") == []
    # A name that says another format than the one given; a zip to stdout.
    for args in ([str(tmp_path / "j.zip"), "--format", "ndjson"], ["-", "--format", "zip"]):
        code, printed = await processes.run([*export, *args], served.env)
        assert code == EXIT_USAGE, printed
        assert "privacyctl export:" in printed, printed
    assert _written(tmp_path, "j.zip") == []

    # Given: written in that format, whatever the name.
    code, printed = await processes.run([*export, str(text), "--format", "ndjson"], served.env)
    assert code == 0, printed
    lines = [json.loads(line) for line in text.read_text().splitlines()]
    manifest = lines[-1]["manifest"]
    jsonschema.validate(manifest, SCHEMA)
    assert {(r["kind"], r["count"]) for r in manifest["records"]} >= {("notes", 2), ("deals", 1)}
    assert sorted(line["record"]["kind"] for line in lines[:-1]) == sorted(
        k for r in manifest["records"] for k in [r["kind"]] * r["count"]
    )
    # Said by the name: .jsonl is NDJSON, .zip a zip.
    code, printed = await processes.run([*export, str(tmp_path / "j.jsonl")], served.env)
    assert code == 0, printed
    assert json.loads((tmp_path / "j.jsonl").read_text().splitlines()[-1])["manifest"]
    boxed = tmp_path / "box.data"
    code, printed = await processes.run([*export, str(boxed), "--format", "zip"], served.env)
    assert code == 0, printed
    assert zipfile.is_zipfile(boxed)
