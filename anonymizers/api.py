"""What a plugin author builds an anonymizer from: the one import surface.

A data type's anonymizer implements `Anonymizer` and is added to a `Registry`;
the built-in ones (anonymizers/builtin/) are written against this module only, as a
third party's would be. The text toolkit (anonymizers/text/: finding a person in
free text, fakes, file formats) is there for the specialised cases.
"""

from anonymizers.base import (
    Action,
    Anonymizer,
    Batch,
    BatchResult,
    BlobReader,
    Category,
    Column,
    Operation,
    Scope,
    Tools,
    counted_batch,
)
from anonymizers.records import Rendered, file_path, record, rendered, rendered_files
from anonymizers.registry import DuplicateDataType, Registry
from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.matches import Match, Role
from anonymizers.text.mentions import Rows, TextColumns, redact_batch
from db.connection import Connection
from db.queries import load_queries

__all__ = [
    "Action",
    "Anonymizer",
    "Batch",
    "BatchResult",
    "BlobReader",
    "Category",
    "Column",
    "Connection",
    "DuplicateDataType",
    "Identifiers",
    "Match",
    "Name",
    "Operation",
    "Registry",
    "Rendered",
    "Role",
    "Rows",
    "Scope",
    "TextColumns",
    "Tools",
    "counted_batch",
    "file_path",
    "load_queries",
    "record",
    "redact_batch",
    "rendered",
    "rendered_files",
]
