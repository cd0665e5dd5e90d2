"""Only the handlers map the operator's errors onto kopf's, with a capped backoff."""

import kopf
import pytest

from tenant_operator.domain.errors import PermanentError, RetryableError
from tenant_operator.handlers import MAX_BACKOFF, raise_for


def test_no_error_raises_nothing() -> None:
    raise_for(None, retry=3)


def test_retryable_errors_back_off_exponentially_up_to_a_cap() -> None:
    delays = []
    for retry in range(10):
        with pytest.raises(kopf.TemporaryError) as info:
            raise_for(RetryableError("down", reason="DatabaseUnavailable"), retry)
        delays.append(info.value.delay)
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert delays == sorted(delays) and max(delays) == MAX_BACKOFF


def test_an_explicit_delay_wins() -> None:
    with pytest.raises(kopf.TemporaryError) as info:
        raise_for(RetryableError("denied", delay=60), retry=0)
    assert info.value.delay == 60


def test_permanent_errors_stop_retrying_with_the_reason() -> None:
    with pytest.raises(kopf.PermanentError, match="SecretNotAvailable: gone"):
        raise_for(PermanentError("gone", reason="SecretNotAvailable"), retry=0)
