"""A ``file:///dir`` destination: a directory (a PVC in a cluster), never overwriting.

``put_new`` copies into a hidden temp name in the same directory, fsyncs it, then
``os.link``s it to the final name: link fails when the name exists, so two writers (or a
restart) can never replace a finished export; the directory is fsynced after.
"""

import asyncio
import errno
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from tenant_operator.adapters.storage.names import check_name
from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.vocabulary import Reason

_CHUNK = 1 << 20


class FileDestination:
    def __init__(self, directory: PurePosixPath) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileDestination({self.location('')!r})"

    def location(self, name: str) -> str:
        if name:
            check_name(name)
        return (self.directory / name).as_uri() if name else self.directory.as_uri()

    def _path(self, name: str) -> Path:
        self.location(name)
        return self.directory / name

    async def exists(self, name: str) -> bool:
        path = self._path(name)
        return await asyncio.to_thread(path.exists)

    async def check_writable(self) -> None:
        await asyncio.to_thread(self._check_writable)

    async def put_new(self, name: str, path: Path) -> str:
        target = self._path(name)
        await asyncio.to_thread(self._put_new, target, path)
        return self.location(name)

    async def fetch(self, name: str, path: Path) -> None:
        source = self._path(name)
        await asyncio.to_thread(self._fetch, source, path)

    def _unwritable(self, why: str) -> PermanentError:
        return PermanentError(
            f"export directory {self.directory} {why}; create it and make it writable "
            "by the operator (a mounted volume), or name another destination",
            reason=Reason.DESTINATION_UNWRITABLE,
        )

    def _check_writable(self) -> None:
        if not self.directory.is_dir():
            raise self._unwritable("does not exist or is not a directory")
        try:
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except PermissionError:
            raise self._unwritable("is not writable") from None
        except OSError as error:
            raise self._os_error(error) from None

    def _os_error(self, error: OSError) -> PermanentError | RetryableError:
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR):
            return self._unwritable(f"cannot be written ({os.strerror(error.errno)})")
        return RetryableError(
            f"writing to export directory {self.directory} failed: {os.strerror(error.errno or 0)}"
        )

    def _put_new(self, target: Path, source: Path) -> None:
        self._check_writable()
        if target.exists():
            raise self._exists(target)
        try:
            fd, temp_name = tempfile.mkstemp(dir=self.directory, prefix=".partial-")
        except OSError as error:
            raise self._os_error(error) from None
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temp, target)
            except FileExistsError:
                raise self._exists(target) from None
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as error:
            raise self._os_error(error) from None
        finally:
            temp.unlink(missing_ok=True)

    def _exists(self, target: Path) -> PermanentError:
        return PermanentError(
            f"export {target.as_uri()} already exists and is never overwritten; "
            "remove or move it first if a new export under this name is wanted",
            reason=Reason.DESTINATION_EXISTS,
        )

    def _fetch(self, source: Path, path: Path) -> None:
        try:
            shutil.copyfile(source, path)
        except FileNotFoundError:
            raise PermanentError(
                f"export {source.as_uri()} does not exist", reason=Reason.INVALID_DESTINATION
            ) from None
