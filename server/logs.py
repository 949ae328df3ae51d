"""Structured logs: one JSON object a line. Callers pass ids and counts, never personal data."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # One line of message: pgserver logs a command's whole output (initdb's two
        # dozen lines) in its message; the lines after the first go in `output`.
        msg, *more = record.getMessage().strip().splitlines() or [""]
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": msg.strip(),
        }
        if output := [line.rstrip() for line in more if line.strip()]:
            entry["output"] = output
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: an exception's text can quote row values.
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def setup(level: str = "INFO") -> None:
    """Send JSON lines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings too, as JSON lines
