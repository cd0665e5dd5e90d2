"""Paged LISTs, so a fleet of thousands never arrives as one response held whole."""

import json
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.kubernetes.errors import TRANSPORT_ERRORS, translate

PAGE_SIZE = 500
#: Ask for metadata only (names, versions, labels), not whole objects.
METADATA_ONLY = {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}

#: One LIST call: given the continue token (None first), the decoded response body.
Fetch = Callable[[str | None], Any]


def pages(fetch: Fetch, what: str) -> Iterator[list[dict[str, Any]]]:
    """The items of a LIST, one page of at most PAGE_SIZE at a time."""
    token: str | None = None
    while True:
        try:
            answer = fetch(token)
        except (ApiException, *TRANSPORT_ERRORS) as exc:
            raise translate(exc, f"list {what}") from None
        if not isinstance(answer, dict):  # raw response (metadata-only lists)
            answer = json.loads(answer.data)
        yield list(answer.get("items") or [])
        token = (answer.get("metadata") or {}).get("continue")
        if not token:
            return
