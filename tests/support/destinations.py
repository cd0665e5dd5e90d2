"""A ``file://`` destination for export tests (the real adapters are ``adapters.storage``).

Same contract as ``controller.ports.Destination``: ``put_new`` never overwrites (it links
the finished file into place, atomically, and refuses an existing name).
"""

import os
import shutil
from pathlib import Path

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason


class DirectoryDestination:
    def __init__(self, root: Path) -> None:
        self.root = root

    def location(self, name: str) -> str:
        return (self.root / name).as_uri()

    async def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    async def put_new(self, name: str, path: Path) -> str:
        part = self.root / f".{name}.part"
        shutil.copyfile(path, part)
        try:
            os.link(part, self.root / name)
        except FileExistsError:
            raise PermanentError(
                f"{self.location(name)} exists", reason=Reason.DESTINATION_EXISTS
            ) from None
        finally:
            part.unlink()
        return self.location(name)

    async def fetch(self, name: str, path: Path) -> None:
        shutil.copyfile(self.root / name, path)

    async def check_writable(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
