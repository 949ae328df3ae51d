"""The data map as a readable table, generated from the anonymizers' declarations.

`python -m anonymizers.datamap > docs/data-map.md` regenerates docs/data-map.md;
a test fails when the file and the code disagree.
"""

from __future__ import annotations

from anonymizers.registry import Registry, default_registry

HEADER = """# Data map

Generated from the anonymizers' declarations (`python -m anonymizers.datamap`);
do not edit by hand. Every text, JSON, array and address column of AtomiCRM's
tables is owned by exactly one anonymizer (a test checks the schema against
this map).

Besides what each column's action says, the subject's identifiers (names,
emails, phone numbers, handles) are replaced wherever they appear in free text
of *other* records: `[redacted]` for Erase, the consistent fake for Anonymize.
Contents of files other than the subject's own are not searched. In the
subject's own binary files (PDF, images), identifiers stored uncompressed are
masked in place; compressed content cannot be searched and is left as it is.
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
