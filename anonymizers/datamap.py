"""The data map as a readable table, generated from the anonymizers' declarations.

`python -m anonymizers.datamap > docs/data-map.md` regenerates docs/data-map.md;
a test fails when the file and the code disagree.
"""

from __future__ import annotations

from anonymizers.registry import Registry, default_registry

HEADER = """# Data map

Generated from the anonymizers' declarations and this page's header
(`python -m anonymizers.datamap`, anonymizers/datamap.py); do not edit by hand.
Every text, JSON, array and address column of AtomiCRM's tables is owned by exactly
one anonymizer (a test checks the schema against this map).

Besides what each column's action says, the subject's identifiers are replaced
wherever they appear in free text of *other* records and in other people's files:
`[redacted]` for Erase, the subject's consistent fake for Anonymize (one fake per
identifier per tenant, the same in the subject's own rows, in mentions and in files).

## What identifies a subject

Gathered when a job is accepted and again when a scheduled job starts
(anonymizers/text/identity.py), from the subject's own rows:

- **names**, structured: given names and family names (`first_name`/`last_name`;
  a user's or billing contact's `name` is split at its last word, particles such as
  "van", "de" going with the family name; "Family, Given" read as written);
- **emails**: the typed columns, the sender of the subject's own inbound emails,
  the only recipient of the emails sent to them, emails in their `custom_fields`;
- **phone numbers**: the typed columns, the sender/only recipient of their SMS and
  WhatsApp messages, numbers in their `custom_fields` (a whole value written as a
  number: with `+`, or ten digits in groups; or any value with 7-17 digits under a
  phone-like key such as `workPhone`, `mobile`; a bare run of digits elsewhere could
  be any id and is not taken);
- **handles and visitor ids**: their Telegram and live-chat addresses, channel
  credential accounts, handles under a handle-like key of `custom_fields`
  ("telegram": "zoe_s");
- **postal addresses**: the contact's and the billing contact's.

Beside them, what the tenant says: the names of other people who share a family
name with the subject (*namesakes*), and which of the subject's addresses someone
else has too. A whole tenant's job needs neither: everyone in it is the subject.

## How text is read (one normalizer for search and redaction)

Every text is read as a reader sees it (anonymizers/text/normalize.py), and the same
fold is applied to the subject's identifiers:

- decoded: HTML entities (named, `&#NN;`, `&#xHH;`), percent-encoding (runs of
  `%XX` that are UTF-8, `+` as a space inside a URL's query string), JSON `\\uXXXX`
  escapes (surrogate pairs joined);
- folded: compatibility decomposition (NFKD: fullwidth letters, ligatures), case
  folding, diacritics dropped (precomposed or decomposed: "Zoë", "Zoë", "Zoe" are
  one), letters without a decomposition spelled in ASCII (ø, ł, đ, æ, œ, ß, þ),
  typographic apostrophes and dashes (\u2019 \u2018 \u02bc \u2013 \u2014) as ASCII, soft hyphens and
  zero-width characters dropped.

A match is replaced over exactly its original characters (an entity or an escape
whole); every other byte stays. Inside a URL that is percent-encoded (or has a
query string) the replacement is percent-encoded too; where the original held
HTML entities it is HTML-escaped.

## Matching rules (precise on purpose: erasing the wrong person is worse than missing one)

- **Email**: the address itself in any case or encoding; the same mailbox with a
  sub-address (`jane+news@example.com` for `jane@example.com`); the subject's
  address spelled out (`jane at example dot com`, `[at]`, `(dot)`). Never the same
  local part at another domain; no name is looked for inside any email address.
- **Phone**: digit groups (at most three separators between groups) that
  phonenumbers reads as the subject's E.164 number, in the tenant's region
  (`privacyctl tenant region`; `PRIVACY_DEFAULT_PHONE_REGION` for tenants without
  one), national or international, with `+`, `00`, `011` or no prefix, `(0)`
  included; phonenumbers' own matcher adds what it finds. A number that is valid
  as a whole is never cut into another number ("+44 20 7946 0958" holds the ten
  digits of "(207) 946-0958" and is someone else).
- **Handles and visitor ids**: whole tokens; a handle that looks like a plain word
  only with its `@`.
- **Names**, as forms of the structured name:
  - the full name as stored, in any case, spelling and spacing (space, `_`, `.`,
    `-`, `+`, up to three of them: file names, URLs);
  - given and family names in any order and any subset that keeps a family name
    and a given name ("Šimić, Zoë", "Zoë Šimić" for "Zoë Anna Šimić-Novak", a
    possessive "Zoë Šimić's", a vCard's structured `N:Šimić;Zoë;;;`);
  - a title and the family name ("Ms. Šimić", "Dr Novak");
  - the family name alone, where it is capitalized;
  - a given name alone, capitalized, in the subject's own rows only ("Dear Zoë,"),
    never as the end of someone else's name written family first ("Novak, Zoë");
  - never a form a namesake of the tenant could also be (all its words are in the
    namesake's name): with a "Liam Novak" in the tenant, "Dr Novak" is left alone;
  - never a name that goes on into a longer one ("Šimić-Horvat", "Zoë Šimić
    Horvat" when someone is called that), and a standalone given or family name
    never next to another capitalized word that is no part of the subject's name
    ("Zoë Petrović", "Ivan Šimić").
- **Postal address**: word by word, separators free ("12 Harbour Rd., Portland"),
  in the subject's own rows, and in other people's only when nobody else in the
  tenant has the same address.
- **A whole tenant** (Anonymize of every person): every email, every number of 7
  or more digits and every @handle, and every person's names by the rules above.

## Where it is searched

- Free text of other records: `messages` (sender, recipients, cc, bcc, subject,
  body), `notes.body`, `deals` (title, description), `contacts` (address, company,
  every string of `custom_fields`), `files.name`, `usage_events.page`: rows found
  through the mention index (migration 0006, tokens of the folded text since 0010)
  and then read by the redactor.
- **Other people's files**, through the token index of their contents
  (privacy_file_tokens: keyed hashes of each file's tokens, kept up to date by the
  job itself before it searches):
  - text-like files are searched and **rewritten** through the blob outbox: plain
    text, CSV/TSV, JSON, HTML, XML, Markdown, e-mail (`.eml`), vCard, iCalendar, in
    UTF-8 (with or without BOM), UTF-16/32 with a BOM, cp1252 or latin-1, each kept
    in its own encoding;
  - documents are searched but **not rewritten**: PDF (page text by pypdf, document
    information, XMP, annotations, form fields, and the raw bytes), DOCX, XLSX,
    PPTX (every XML part, core properties), ODT/ODS/ODP, RTF. A file that holds the
    subject is listed in the job's `needs_review` (file id, data type, why),
    audited, counted in `privacy_files_needing_review_total`, and shown by
    `privacyctl jobs` and `watch`; an operator deletes it with
    `privacyctl erase --tenant T --file-id N` (Erase with `subject.file_id`) or keeps it;
  - a text-like file whose subject sits where its text cannot be rewritten (a
    base64 or quoted-printable MIME part, an RFC 2047 header, a name split by HTML
    tags) is rewritten where it can be and listed for review too.
- The subject's own files: erased, or for Anonymize rewritten (text-like) or
  stripped of metadata with identifiers stored uncompressed masked in place (a
  mask that would break the file's structure is not applied); a document that
  still names them afterwards is left exactly as it was and listed for review.

## Not found (every remaining limit)

- Names in a script without ASCII letters after folding (Chinese, Cyrillic,
  Arabic…) are matched, but found by scanning the tenant's text, not by the index
  (slower); their namesakes are not looked up.
- Transliterations other than dropped diacritics ("Mueller" for "Müller", "Shimich"
  for "Šimić"), nicknames ("Bill" for "William"), initials ("Z. Šimić") and names
  glued to other letters or digits ("ZoeSimic", "Simic2024").
- A family name alone written in lower case ("simic" in a URL slug), or next to
  another capitalized word ("Met Šimić"); a given name alone in other people's
  records.
- Two people of the tenant with the very same full name: the full name is the
  subject's and is replaced in both people's records.
- Emails obfuscated in other ways ("jane (at) example . com" with spaces around a
  dot, images of addresses); phone numbers written in words, with letters
  (1-800-FLOWERS), with non-ASCII digits, with more than three separators between
  groups, or in another country's national format than the tenant's region.
- Text in images (no OCR), in audio or video, inside archives (zip, tar), in
  encrypted PDFs, and compressed content of the subject's own binary files.
- Documents are never rewritten (listed for review instead); encoded parts of
  e-mails are not re-encoded (listed for review).
- Text encodings without a BOM other than UTF-8, cp1252 and latin-1 (UTF-16
  without BOM, Shift-JIS…) are read as one of those.
- Escapes nested in escapes ("%2540", "&amp;eacute;") are decoded once.
- Records created after a job was accepted (a scheduled job reads the subject's
  identifiers and namesakes again when it starts).
"""


def render(registry: Registry) -> str:
    """The data map as Markdown: one table per data type."""
    out = [HEADER]
    for anonymizer in registry.ordered():
        out.append(f"\n## {anonymizer.data_type}\n")
        out.append("| table.column | holds | Erase | Anonymize | why kept |")
        out.append("|---|---|---|---|---|")
        for c in anonymizer.columns:
            out.append(
                f"| {c.table}.{c.column} | {c.category.value} | {c.erase.value} "
                f"| {c.anonymize.value} | {c.reason} |"
            )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(default_registry()), end="")
