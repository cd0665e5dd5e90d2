"""Capture every log record of a test session, to search it for planted secrets."""

import contextlib
import logging
from collections.abc import Iterable, Iterator


class _Collect(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@contextlib.contextmanager
def capture(names: Iterable[str]) -> Iterator[list[logging.LogRecord]]:
    """Records of the root logger, with ``names`` turned up to DEBUG meanwhile."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", *names)}
    root.addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def record_text(record: logging.LogRecord) -> str:
    """All a record could show: its message, arguments, traceback and exception."""
    parts = [record.getMessage(), record.exc_text or "", str(record.args)]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


def leaked(secrets: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The ``secrets`` found in any of ``texts``, sorted."""
    seen = list(texts)
    return sorted(secret for secret in secrets if any(secret in text for text in seen))
