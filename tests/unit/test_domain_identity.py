"""Which Tenant object owns a registered tenant, and what an adoption must name (pure)."""

import uuid
from datetime import UTC, datetime

import pytest

from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.identity import (
    ADOPT_ANNOTATION,
    RETAINED_TENANT_EXISTS,
    Registered,
    decide,
    parse_uid,
)

TID, OLD, NEW = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RETAINED = Registered(TID, OLD, AT)


def test_the_same_object_owns_and_a_live_unclaimed_row_is_claimed() -> None:
    assert decide("acme", Registered(TID, NEW, None), NEW, None) == "owned"
    assert decide("acme", Registered(TID, None, None), NEW, None) == "claim"


@pytest.mark.parametrize(
    "registered", [RETAINED, Registered(TID, None, AT), Registered(TID, OLD, None)]
)
@pytest.mark.parametrize("adopt", [None, "", str(uuid.uuid4()), "acme", "x" * 500])
def test_another_object_is_refused_naming_the_retained_tenant(
    registered: Registered, adopt: str | None
) -> None:
    with pytest.raises(PermanentError) as refused:
        decide("acme", registered, NEW, adopt)
    message = refused.value.message
    assert refused.value.reason == RETAINED_TENANT_EXISTS
    assert ADOPT_ANNOTATION in message and "nothing was changed" in message
    assert str(TID) not in message  # the id is the adoption key: never told to the author
    assert len(message) < 600  # a hostile annotation is cut short


def test_an_adoption_naming_the_retained_tenant_adopts() -> None:
    assert decide("acme", RETAINED, NEW, str(TID)) == "adopt"
    assert decide("acme", RETAINED, NEW, f" {str(TID).upper()} ") == "adopt"
    assert RETAINED.belongs_to(OLD) and not RETAINED.belongs_to(NEW)
    assert not Registered(TID, None, AT).belongs_to(None)


def test_a_uid_must_be_a_uuid() -> None:
    assert parse_uid(str(NEW)) == NEW
    with pytest.raises(PermanentError):
        parse_uid("'; DROP TABLE tenants; --")
