"""Write an export bundle on the local filesystem, streaming: memory stays flat in rows.

Each file of the bundle is first written to a temp file of its own while it is hashed and
its rows counted (:class:`BundleWriter`); :meth:`BundleWriter.assemble` then writes the one
deterministic USTAR tar (manifest.json, manifest.sig, the files in order) to a temp file,
ready for a destination. Everything lives under one temp directory, removed on close.
"""

import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from tenant_operator.domain import bundle, tarball
from tenant_operator.domain.bundle import FileEntry


class _HashedFile:
    """A temp file written in chunks, hashed and sized as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.out: BinaryIO = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.out.write(data)

    def close(self) -> None:
        self.out.close()


class TableFiles:
    """The JSON Lines (and, for a table, CSV) files of rows; :meth:`write_rows` takes batches."""

    def __init__(self, root: Path, paths: Sequence[str], columns: Sequence[str], stem: str) -> None:
        self.columns = tuple(columns)
        self.paths = tuple(paths)
        self.jsonl = _HashedFile(root / f"{stem}.jsonl")
        self.csv = _HashedFile(root / f"{stem}.csv") if len(paths) == 2 else None
        self.rows = 0
        self._text = io.StringIO()
        self._csv = bundle.csv_writer(self._text)
        if self.csv is not None:
            self._csv.writerow(self.columns)
            self._flush_csv()

    def _flush_csv(self) -> None:
        assert self.csv is not None
        self.csv.write(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()

    def write_rows(self, rows: Sequence[Sequence[object]]) -> None:
        """Rows as values: rendered here (JSON Lines and CSV)."""
        self.jsonl.write("".join(bundle.jsonl_lines(self.columns, rows)).encode())
        if self.csv is not None:
            self._csv.writerows(bundle.csv_rows(rows))
            self._flush_csv()
        self.rows += len(rows)

    def write_jsonl(self, lines: Sequence[str]) -> None:
        """Rows rendered already as JSON object texts (one each, no newline inside)."""
        if lines:
            self.jsonl.write(("\n".join(lines) + "\n").encode())
        self.rows += len(lines)

    def write_csv(self, data: bytes) -> None:
        """CSV records rendered already (the rows counted by :meth:`write_jsonl`)."""
        assert self.csv is not None
        self.csv.write(data)

    def close(self) -> list[tuple[FileEntry, Path]]:
        files = [f for f in (self.jsonl, self.csv) if f is not None]
        for f in files:
            f.close()
        return [
            (FileEntry(path, self.rows, f.digest.hexdigest(), f.size), f.path)
            for path, f in zip(self.paths, files, strict=True)
        ]


#: The prefix of a bundle's temp directory (what :func:`remove_stale` removes).
STAGING_PREFIX = "export-"


def remove_stale(workdir: Path) -> list[str]:
    """Remove the staging directories an operator killed mid-export left in ``workdir``
    (at startup, before any export runs: the work dir is this process's own)."""
    removed = []
    for path in sorted(workdir.glob(f"{STAGING_PREFIX}*")):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


class BundleWriter:
    """The files of one bundle, in the order they are added, then the tar of them all."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=workdir))
        self._files: list[tuple[FileEntry, Path]] = []
        self._open: list[TableFiles] = []

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for table in self._open:
            table.close()
        self._open.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def table(self, name: str, columns: Sequence[str]) -> TableFiles:
        """Start a table's files (its earlier tables are finished first)."""
        self.finish_tables()
        table = TableFiles(self.root, bundle.table_files(name), columns, f"table-{name}")
        self._open.append(table)
        return table

    def jsonl(self, path: str, columns: Sequence[str]) -> TableFiles:
        """A JSON Lines file other than a table's (the audit entries)."""
        self.finish_tables()
        rows = TableFiles(self.root, (path,), columns, path.replace("/", "-"))
        self._open.append(rows)
        return rows

    def finish_tables(self) -> None:
        for table in self._open:
            self._files += table.close()
        self._open.clear()

    def add_json(self, path: str, items: Sequence[object]) -> None:
        """A small JSON array (the connectors): canonical, one newline at the end."""
        self.finish_tables()
        out = _HashedFile(self.root / path.replace("/", "_"))
        out.write(bundle.canonical(json.loads(json.dumps(items, default=bundle.json_value))))
        out.close()
        self._files.append(
            (FileEntry(path, len(items), out.digest.hexdigest(), out.size), out.path)
        )

    @property
    def files(self) -> tuple[FileEntry, ...]:
        self.finish_tables()
        return tuple(entry for entry, _ in self._files)

    def assemble(self, manifest: bytes, signature: bytes, mtime: int) -> tuple[Path, str]:
        """The bundle's tar in a temp file under this writer's directory, and its SHA-256."""
        self.finish_tables()
        tar = _HashedFile(self.root / "bundle.tar")
        members = [(bundle.MANIFEST, manifest), (bundle.SIGNATURE, signature)]
        for name, data in members:
            tar.write(tarball.header(name, len(data), mtime))
            tar.write(data + tarball.padding(len(data)))
        for entry, path in self._files:
            tar.write(tarball.header(entry.path, entry.bytes, mtime))
            with path.open("rb") as src:
                while chunk := src.read(tarball.CHUNK):
                    tar.write(chunk)
            tar.write(tarball.padding(entry.bytes))
        tar.write(tarball.END)
        tar.close()
        return tar.path, tar.digest.hexdigest()
