"""A Tenant's status through its typed model: read once, conditions merged, dumped once.

The API server prunes, without an error, any status field its CRD does not declare, so
status is never a hand-built dict: it is a :class:`TenantStatus` (whose fields generate the
CRD), validated as it is built, and dumped once, by :func:`wire`, where the handler patches
it. The wire form holds exactly the fields that were set: a field set to None is sent as
null, which removes it (a JSON merge patch), and a field never set is not sent at all.
"""

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tenant_operator.api.common import Condition
from tenant_operator.api.tenant import TenantStatus
from tenant_operator.domain import conditions as cond

log = logging.getLogger(__name__)

S = TypeVar("S", bound=BaseModel)


def read_status(body: Mapping[str, Any]) -> TenantStatus:
    """The status of a Tenant body (see :func:`parse_status`)."""
    return parse_status(TenantStatus, body)


def parse_status(model: type[S], body: Mapping[str, Any]) -> S:
    """The status of an object's body as ``model``: empty when absent; of one that does not
    parse (written by an older version), every top-level field that parses alone is kept."""
    raw = body.get("status") or {}
    try:
        return model.model_validate(raw)
    except ValidationError:
        pass
    kept = {}
    for key, value in dict(raw).items():
        try:
            model.model_validate({key: value})
        except ValidationError:
            name = (body.get("metadata") or {}).get("name")
            log.debug("%s: status.%s is unreadable, ignored", name, key)
            continue
        kept[key] = value
    return model.model_validate(kept)


def amended(status: TenantStatus, **fields: Any) -> TenantStatus:
    """``status`` with ``fields`` (python names) set as well, validated: a misspelt field or
    a wrong value is an error here, not a field the API server silently prunes."""
    kept = {name: getattr(status, name) for name in status.model_fields_set}
    return TenantStatus.model_validate({**kept, **fields})


def merge_conditions(
    previous: Sequence[Condition],
    checks: Sequence[cond.Check],
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """``checks`` over ``previous``, keeping untouched types, in the conventional order.

    ``lastTransitionTime`` is carried over when the status did not flip.
    """
    old = {c.type: c for c in previous}
    merged = dict(old)
    stamped = {"observed_generation": generation} if generation is not None else {}
    for check in checks:
        before = old.get(check.type)
        kept = before is not None and before.status == check.status
        merged[check.type] = Condition(
            type=check.type,
            status=check.status,
            reason=check.reason,
            message=check.message,
            last_transition_time=before.last_transition_time if before and kept else now,
            **stamped,
        )
    order = [cond.READY, cond.RECONCILING, cond.STALLED, *cond.ASPECTS]
    return sorted(merged.values(), key=lambda c: _rank(order, c.type))


def generation_of(body: Mapping[str, Any]) -> int | None:
    generation = (body.get("metadata") or {}).get("generation")
    return generation if isinstance(generation, int) else None


def merged_over(
    body: Mapping[str, Any],
    previous: Sequence[Condition],
    checks: Sequence[cond.Check],
    now: datetime,
) -> list[Condition]:
    """:func:`merge_conditions` of ``checks`` over ``previous``, stamped with the
    generation of the object ``body`` (the one the handler was given)."""
    return merge_conditions(previous, checks, generation=generation_of(body), now=now)


def _rank(order: Sequence[str], type_: str) -> tuple[int, str]:
    return (order.index(type_) if type_ in order else len(order), type_)


def wire(status: BaseModel) -> dict[str, Any]:
    """The one dump of a status the operator built: camelCase, JSON types, the fields set."""
    return status.model_dump(mode="json", by_alias=True, exclude_unset=True)
