"""Translate Kubernetes client failures into the operator's errors."""

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.domain.vocabulary import Reason

TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)


def translate(exc: ApiException | urllib3.exceptions.HTTPError | OSError, what: str) -> Exception:
    """An operator error for a failed ``what`` (never includes response bodies or data)."""
    if not isinstance(exc, ApiException):
        return RetryableError(
            f"Kubernetes API unreachable while {what}", reason=Reason.KUBERNETES_UNAVAILABLE
        )
    if exc.status == 403:
        return PermanentError(
            f"the operator is not allowed to {what} (HTTP 403): grant it in the chart's RBAC",
            reason=Reason.FORBIDDEN,
        )
    if exc.status in (429, 500, 502, 503, 504):
        return RetryableError(f"Kubernetes API busy while {what} (HTTP {exc.status})")
    return PermanentError(f"Kubernetes API refused to {what} (HTTP {exc.status} {exc.reason})")
