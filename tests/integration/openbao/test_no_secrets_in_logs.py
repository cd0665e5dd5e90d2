"""No token and no secret value ever reaches a log line, even where a step fails.

Every record of the OpenBao tests (root, hvac and urllib3 loggers at DEBUG) is collected
by the session fixture ``bao_log_records``, and after each test the conftest searches its
records for every secret known by then. This module adds one full flow of its own,
including failures whose errors are logged the way a handler would, and then searches all
that was captured so far (the whole directory's when it runs last), and the errors and
reprs, for every token and value the tests used. It does not need to run last.
"""

import logging

import pytest

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.client import BaoClients
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.domain.errors import OperatorError
from tenant_operator.settings import Settings
from tests.support.logs import leaked, record_text
from tests.support.openbao import root_in, run

pytestmark = pytest.mark.integration

log = logging.getLogger("tests.openbao.handler")


def test_no_token_or_secret_value_in_any_log_line(
    openbao_server: OpenBaoServer,
    settings: Settings,
    operator_tokens: dict[str, str],
    bao_secrets: set[str],
    bao_log_records: list[logging.LogRecord],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("hvac", "urllib3", "tenant_operator"):
        caplog.set_level(logging.DEBUG, logger=name)
    token = operator_tokens[settings.secrets_layout]
    value, invite = "s3cr3t-connector-value-ZQ9", "invite-token-XK7"
    bao_secrets.update({openbao_server.root_token, token, value, invite})
    before = len(bao_log_records)

    tenants = OpenBaoTenants(settings, token=token)
    run(tenants.ensure_tenant("logged"))
    run(tenants.route_connector("logged", "github", {"token": value}))
    run(tenants.route_connector("logged", "github", {"token": value, "other": value}))
    run(tenants.store_invite("logged", invite))
    run(tenants.drop_tenant("logged"))
    weak = root_in(openbao_server, settings.bao_namespace).auth.token.create(ttl="5m")
    weak_token = weak["auth"]["client_token"]
    bao_secrets.add(weak_token)
    failures: list[OperatorError] = []
    for adapter in (
        OpenBaoTenants(settings, token=weak_token),
        OpenBaoTenants(
            settings.model_copy(update={"bao_addr": "http://127.0.0.1:9"}), token=weak_token
        ),
    ):
        try:
            run(adapter.route_connector("logged", "github", {"token": value}))
        except OperatorError as exc:
            failures.append(exc)
            log.warning("OpenBao step failed: %s", exc, exc_info=True)
    assert len(failures) == 2

    texts = [record_text(r) for r in (*bao_log_records, *caplog.records)]
    texts += [str(e) for e in failures] + [repr(tenants), repr(BaoClients(settings, token))]
    assert len(bao_log_records) - before > 20  # the capture did see this flow's requests
    assert leaked(bao_secrets, texts) == []
