"""Errors that adapters raise and only the kopf handlers translate.

Adapters translate library exceptions (psycopg, hvac, kubernetes) into one of these two,
with a message that says what is wrong and what to do. Messages never carry secret values.
"""

from tenant_operator.domain.vocabulary import Reason


class OperatorError(Exception):
    """Base of the operator's own errors. ``reason`` is a CamelCase condition reason."""

    reason: str = Reason.ERROR

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class RetryableError(OperatorError):
    """A transient failure (service unreachable, sealed, lock timeout): retry with backoff."""

    reason: str = Reason.UNAVAILABLE

    def __init__(
        self, message: str, *, reason: str | None = None, delay: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.delay = delay


class PermanentError(OperatorError):
    """The input cannot be honoured as it is (bad spec, forbidden Secret, denied): fix it."""

    reason: str = Reason.INVALID_SPEC
