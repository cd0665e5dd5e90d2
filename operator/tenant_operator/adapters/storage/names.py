"""Object names of export destinations: one plain file name, no traversal."""

import re

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

#: One path segment of safe characters (no '/', no '..', no leading dot).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def check_name(name: str) -> str:
    """An object name as given, or PermanentError: one safe segment, no traversal."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise PermanentError(
            f"export object name {name!r} is not one plain file name "
            "(letters, digits, '.', '_', '-'; no '/' or '..')",
            reason=Reason.INVALID_DESTINATION,
        )
    return name
