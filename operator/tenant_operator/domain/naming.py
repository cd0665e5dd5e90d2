"""Names derived from a tenant slug, validated before they reach SQL or OpenBao paths.

Every name used as a PostgreSQL identifier or as a segment of an OpenBao path goes through
this module. The rules are deliberately narrow (ASCII DNS labels), so quotes, semicolons,
slashes, ``..``, percent-encodings and unicode look-alikes can never get through.
"""

import re

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.vocabulary import Reason

#: A DNS-1123 label: lowercase ASCII letters, digits and '-', starting with a letter and
#: ending with a letter or digit. Slugs are limited to 40 characters so derived names
#: (``t_<slug>``, ``tenant-<slug>``) stay inside PostgreSQL's 63-byte identifier limit.
SLUG_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
SLUG_MAX_LENGTH = 40
LABEL_PATTERN = SLUG_PATTERN
LABEL_MAX_LENGTH = 63
#: PostgreSQL identifiers used by the operator (schemas, roles): lowercase ASCII only.
IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]*$"
IDENTIFIER_MAX_BYTES = 63

_SLUG_RE = re.compile(SLUG_PATTERN)
_IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)


def validate_label(value: str, *, what: str = "name", max_length: int = LABEL_MAX_LENGTH) -> str:
    """Return ``value`` if it is a DNS label of at most ``max_length`` chars, else raise."""
    if not isinstance(value, str) or not value:
        raise PermanentError(f"{what} must be a non-empty string", reason=Reason.INVALID_NAME)
    if len(value) > max_length:
        raise PermanentError(
            f"{what} {value[:max_length]!r}... is longer than {max_length} characters",
            reason=Reason.INVALID_NAME,
        )
    if not value.isascii() or _SLUG_RE.fullmatch(value) is None:
        raise PermanentError(
            f"{what} {value!r} is not a DNS label: use lowercase a-z, 0-9 and '-', "
            "starting with a letter and ending with a letter or digit",
            reason=Reason.INVALID_NAME,
        )
    return value


def validate_slug(slug: str) -> str:
    """Validate a tenant slug (``metadata.name`` of a Tenant)."""
    return validate_label(slug, what="tenant slug", max_length=SLUG_MAX_LENGTH)


def validate_identifier(value: str, *, what: str = "identifier") -> str:
    """Validate a PostgreSQL identifier the operator creates (schema or role name)."""
    if (
        not value
        or not value.isascii()
        or len(value.encode()) > IDENTIFIER_MAX_BYTES
        or _IDENTIFIER_RE.fullmatch(value) is None
    ):
        raise PermanentError(
            f"{what} {value!r} is not a valid identifier: lowercase a-z, 0-9 and '_', "
            f"at most {IDENTIFIER_MAX_BYTES} bytes",
            reason=Reason.INVALID_NAME,
        )
    return value


#: Prefix of a schema-tier tenant's dedicated schema.
TENANT_SCHEMA_PREFIX = "t_"


def tenant_schema(slug: str) -> str:
    """The dedicated schema of a schema-tier tenant: ``t_<slug>`` with '-' as '_'."""
    schema = TENANT_SCHEMA_PREFIX + validate_slug(slug).replace("-", "_")
    return validate_identifier(schema, what="schema")


def openbao_namespace(parent: str, slug: str) -> str:
    """The tenant's OpenBao namespace path, e.g. ``tenants/acme``."""
    return f"{validate_path(parent, what='namespace parent')}/{validate_slug(slug)}"


def validate_path(value: str, *, what: str = "path") -> str:
    """Validate a '/'-separated OpenBao path whose every segment is a DNS label."""
    segments = value.split("/")
    for segment in segments:
        validate_label(segment, what=f"{what} segment")
    return value


OPENBAO_TENANT_PREFIX = "tenant-"


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CHAIN_RE = re.compile(rf"^(?P<slug>[a-z0-9-]{{1,40}})(@{_UUID})?$")


def validate_chain(chain: str) -> str:
    """A tenant's audit chain name: its slug (first chain), or ``<slug>@<uuid>`` after reuse."""
    found = _CHAIN_RE.fullmatch(chain) if isinstance(chain, str) and chain.isascii() else None
    if found is None:
        raise PermanentError(
            f"audit chain {str(chain)[:80]!r} is not a tenant chain: use the slug or <slug>@<uuid>",
            reason=Reason.INVALID_NAME,
        )
    validate_slug(found.group("slug"))
    return chain
