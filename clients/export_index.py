"""index.html: an export archive as the person it is for can read it.

Plain HTML, no script: every value from the export goes through html.escape, and a
Content-Security-Policy forbids scripts, plugins and loads from anywhere (the one
inline stylesheet is allowed by its hash). The page says who the export is about,
when its snapshot was taken, what each kind of record holds, and shows the first
ROWS_SHOWN records of each kind in a table, linking to the NDJSON file that holds
them all and to every exported file (up to FILES_SHOWN; manifest.json lists all).
Only those rows are kept while the export streams (each value cut to CELL_CHARS),
so the page costs the same memory for a person's export and a tenant's.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

ROWS_SHOWN = 100
FILES_SHOWN = 500
CELL_CHARS = 300

# What each built-in kind of record holds, for people; a kind not named here (a
# third-party data type) is described by its data type.
KIND_DESCRIPTIONS = {
    "contacts": "Your contact record: name, email, phone number, postal address, company, "
    "birthday and any custom fields.",
    "notes": "Notes the organisation's staff wrote about you.",
    "deals": "Deals (sales opportunities) linked to you: title, description, amount, stage.",
    "messages": "Messages to and from you on every channel (email, SMS, WhatsApp, Telegram): "
    "sender, recipients, subject and text.",
    "files": "Files about you and the attachments of your messages: name, type, size and "
    "SHA-256. Their contents are in the files/ folder.",
    "users": "Your user account (never its password).",
    "billing_contacts": "The billing contacts of your account.",
    "sessions": "Sign-in sessions of your account: network address and device (never the "
    "session tokens).",
    "usage_events": "What your account did in the product, and when.",
}
_TITLES = {"billing_contacts": "Billing contacts", "usage_events": "Usage events"}

_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{background:#eee}td{white-space:pre-wrap;overflow-wrap:anywhere}"
    ".note{color:#555}"
)
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
# No default source at all: no script, no frame, no image, no font, no connection.
CSP = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; form-action 'none'"


@dataclass
class _Shown:
    """The first rows of one record file, cut for display."""

    columns: dict[str, None] = field(default_factory=dict)  # in order of first sight
    rows: list[dict[str, str]] = field(default_factory=list)


class IndexPage:
    """Collects the rows the page shows while the export streams; renders it at the end."""

    def __init__(self, rows_shown: int = ROWS_SHOWN, files_shown: int = FILES_SHOWN) -> None:
        self._rows_shown = rows_shown
        self._files_shown = files_shown
        self._shown: dict[str, _Shown] = {}

    def add(self, path: str, ndjson: bytes) -> None:
        """Take a block of the records written to `path` (NDJSON); keeps the first few."""
        shown = self._shown.setdefault(path, _Shown())
        need = self._rows_shown - len(shown.rows)
        if need <= 0:
            return
        # Split off only the lines wanted: a block is a megabyte of records.
        for line in ndjson.split(b"\n", need)[:need]:
            if not line:
                continue
            row = {k: _cell(v) for k, v in _object(line).items() if k != "kind"}
            shown.columns.update(dict.fromkeys(row))
            shown.rows.append(row)

    def render(self, manifest: dict[str, Any], written_at: datetime | None = None) -> str:
        """The page for an archive whose manifest.json is `manifest`."""
        written = (written_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
        records = sorted(manifest.get("records", []), key=_reading_order)
        parts = [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">\n',
            '<meta name="referrer" content="no-referrer">\n',
            "<title>Your personal data export</title>\n",
            f"<style>{_CSS}</style>\n</head>\n<body>\n",
            "<h1>Your personal data export</h1>\n",
            _about(manifest, written),
            _contents(records, manifest),
        ]
        parts.extend(self._records(entry) for entry in records)
        parts.append(self._files(manifest))
        parts.append("</body>\n</html>\n")
        return "".join(parts)

    def _records(self, entry: dict[str, Any]) -> str:
        path, kind, count = entry.get("path", ""), entry["kind"], entry["count"]
        shown = self._shown.get(path, _Shown())
        out = [
            f'<h2 id="{_e(_anchor(path))}">{_e(_title(kind))}</h2>\n',
            f"<p>{_e(_description(kind, entry['data_type']))}</p>\n",
            f"<p>{count:,} record{'s' if count != 1 else ''}, all in {_link(path)} "
            "(one JSON object a line).",
        ]
        if count > len(shown.rows):
            out.append(
                f' <span class="note">The table shows the first {len(shown.rows):,}; '
                f"the file holds every one.</span>"
            )
        out.append("</p>\n")
        if shown.rows:
            out.append(_table(list(shown.columns), shown.rows))
        return "".join(out)

    def _files(self, manifest: dict[str, Any]) -> str:
        files, missing = manifest.get("files", []), manifest.get("missing_files", [])
        if not files and not missing:
            return ""
        out = ['<h2 id="files">File contents</h2>\n']
        if files:
            out.append(f"<p>{len(files):,} file{'s' if len(files) != 1 else ''} in files/.")
            out.append(self._cut(len(files)) + "</p>\n")
            rows = [
                {
                    "file": _link(f["path"]),
                    "size (bytes)": _e(f"{f['size_bytes']:,}"),
                    "SHA-256": _e(f["sha256"]),
                }
                for f in files[: self._files_shown]
            ]
            out.append(_html_table(["file", "size (bytes)", "SHA-256"], rows))
        if missing:
            out.append(
                f"<p>{len(missing):,} file{'s' if len(missing) != 1 else ''} could not be "
                "included: the service no longer holds their contents (their records are "
                f"above).{self._cut(len(missing))}</p>\n"
            )
            rows = [
                {"file": _e(m["path"]), "reason": _e(m["reason"])}
                for m in missing[: self._files_shown]
            ]
            out.append(_html_table(["file", "reason"], rows))
        return "".join(out)

    def _cut(self, listed: int) -> str:
        """What a list of files cut at files_shown says about it."""
        if listed <= self._files_shown:
            return ""
        return (
            f' <span class="note">Listed here: the first {self._files_shown:,}; '
            f"{_link('manifest.json')} lists every one.</span>"
        )


def _describe_subject(subject: dict[str, Any]) -> str:
    """Who an export is about, in words, from the manifest's `subject`."""
    words = {
        "email": "the email address",
        "phone": "the phone number",
        "contact_id": "contact number",
        "user_id": "user account number",
        "whole_tenant": "every person of the organisation",
    }
    return "; ".join(f"{words.get(k, k)} {v}" for k, v in subject.items())


def _about(manifest: dict[str, Any], written: str) -> str:
    facts = []
    if subject := manifest.get("subject"):
        facts.append(("About", _describe_subject(subject)))
    if tenant := manifest.get("tenant_id"):
        facts.append(("Held by", f"the organisation {tenant} (its AtomiCRM account)"))
    facts.append(("Data as of", _snapshot(manifest["snapshot_at"])))
    facts.append(("Written", written))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>\n" for k, v in facts)
    return (
        f"<dl>\n{items}</dl>\n"
        "<p>All of it comes from one consistent snapshot of the service's database. "
        f"For programs: {_link('manifest.json')} lists every file with its count, size "
        "and SHA-256; each .ndjson file holds one JSON object a line.</p>\n"
    )


def _reading_order(entry: dict[str, Any]) -> int:
    """The person's own record first, then what is about them: the built-in kinds in
    KIND_DESCRIPTIONS' order, others after (sorted stably: in the manifest's order)."""
    order = list(KIND_DESCRIPTIONS)
    kind = entry["kind"]
    return order.index(kind) if kind in order else len(order)


def _contents(records: list[dict[str, Any]], manifest: dict[str, Any]) -> str:
    rows = [
        {
            "records": f'<a href="#{_e(_anchor(r.get("path", "")))}">{_e(_title(r["kind"]))}</a>',
            "what they are": _e(_description(r["kind"], r["data_type"])),
            "count": _e(f"{r['count']:,}"),
            "file": _link(r["path"]) if r.get("path") else "",
        }
        for r in records
    ]
    files = len(manifest.get("files", []))
    if files or manifest.get("missing_files"):
        rows.append(
            {
                "records": '<a href="#files">File contents</a>',
                "what they are": _e("The contents of the files listed under Files."),
                "count": _e(f"{files:,}"),
                "file": _e("files/"),
            }
        )
    heads = ["records", "what they are", "count", "file"]
    return "<h2>What is in this export</h2>\n" + _html_table(heads, rows)


def _table(columns: list[str], rows: list[dict[str, str]]) -> str:
    """A table of records: every value escaped; a file's `path` links to its contents."""
    cells = [{c: _value_html(c, row.get(c, "")) for c in columns} for row in rows]
    return _html_table(columns, cells)


def _value_html(column: str, text: str) -> str:
    return _link(text) if column == "path" and text.startswith("files/") else _e(text)


def _html_table(heads: list[str], rows: list[dict[str, str]]) -> str:
    """A table of cells already made HTML, under headings made HTML here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    body = "".join(
        "<tr>" + "".join(f"<td>{row.get(h, '')}</td>" for h in heads) + "</tr>\n" for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _object(line: bytes) -> dict[str, Any]:
    value = json.loads(line)
    return value if isinstance(value, dict) else {"value": value}


def _cell(value: Any) -> str:
    """A value as text for a table cell, cut to CELL_CHARS."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:  # numbers, booleans, nested objects (custom fields), lists (recipients)
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _link(path: str) -> str:
    """A link to a file of the archive, relative to this page. Quoting keeps any ":" out
    of the address, so no value can make it a link to a scheme (javascript:)."""
    return f'<a href="{_e(quote(path))}">{_e(path)}</a>'


def _anchor(path: str) -> str:
    return "records-" + quote(path, safe="")


def _title(kind: str) -> str:
    return _TITLES.get(kind, kind.replace("_", " ").capitalize())


def _description(kind: str, data_type: str) -> str:
    return KIND_DESCRIPTIONS.get(kind, f"Records of the {data_type} data type ({kind}).")


def _snapshot(text: str) -> str:
    """The manifest's snapshot time as people read it."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _e(text: str) -> str:
    return html.escape(text, quote=True)
