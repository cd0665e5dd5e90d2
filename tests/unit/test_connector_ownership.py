"""A connector Secret is routed only into the tenant its owner label names (the step alone).

The connectors step is driven with an in-memory Secret source and OpenBao stand-in: a
missing Secret, an unlabelled one and another tenant's give byte-identical refusals, and
nothing reaches OpenBao. (tests/e2e/operator/test_connector_ownership.py runs the same
attack against the real services.)
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenant_operator.api import Tenant
from tenant_operator.controller.planning import build_plan
from tenant_operator.controller.ports import Ports
from tenant_operator.controller.reconcile import _Run
from tenant_operator.domain import conditions as cond
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.ownership import OWNER_LABEL, not_available, owner_of

NS = "tenant-secrets"


@dataclass(frozen=True)
class Content:
    data: dict[str, bytes]
    version: str
    owner: str | None


@dataclass
class Secrets:
    stored: dict[tuple[str, str], Content]

    async def read(self, namespace: str, name: str) -> Content | None:
        return self.stored.get((namespace, name))


@dataclass
class Bao:
    routed: list[tuple[str, str]] = field(default_factory=list)

    async def route_connector(self, slug: str, connector: str, data: Any) -> Any:
        self.routed.append((slug, connector))
        raise AssertionError("nothing may be routed")


TENANT_ID = uuid.UUID(int=1)


@dataclass(frozen=True)
class Db:
    tenant_id: uuid.UUID = TENANT_ID


def tenant(slug: str, secret: str) -> Tenant:
    return Tenant.model_validate(
        {
            "metadata": {"name": slug, "generation": 1},
            "spec": {
                "organisation": "B Ltd",
                "plan": "team",
                "owner": {"name": "J", "email": f"j@{slug}.example"},
                "connectors": [
                    {
                        "name": "github",
                        "type": "github",
                        "secretRef": {"namespace": NS, "name": secret},
                    }
                ],
            },
        }
    )


def refusal(secrets: Secrets, bao: Bao, secret: str) -> tuple[str, str]:
    t = tenant("beta", secret)
    plan = build_plan(
        t,
        allowed_secret_namespaces=(NS,),
        service_account_names=("tenant-app",),
        workload_namespace_prefix="tenant-",
    )
    ports = Ports(
        db=None,  # type: ignore[arg-type]
        audit=None,  # type: ignore[arg-type]
        bao=bao,  # type: ignore[arg-type]
        k8s_secrets=secrets,
        verify_isolation=None,  # type: ignore[arg-type]
        tenants=None,  # type: ignore[arg-type]
    )
    run = _Run(t, plan, [], ports, datetime.now(UTC), db=Db())  # type: ignore[arg-type]
    try:
        asyncio.run(run.connectors())
    except PermanentError as exc:
        return exc.reason, exc.message.replace(secret, "<name>")
    raise AssertionError(f"{secret} was routed")


def test_missing_unlabelled_and_anothers_secret_are_refused_alike() -> None:
    secrets = Secrets(
        {
            (NS, "acme-github"): Content({"token": b"s3cr3t"}, "7", "acme"),
            (NS, "nobodys"): Content({"token": b"s3cr3t"}, "8", None),
        }
    )
    bao = Bao()
    told = {refusal(secrets, bao, name) for name in ("acme-github", "nobodys", "missing")}
    assert len(told) == 1, told
    ((reason, message),) = told
    assert reason == cond.SECRET_NOT_AVAILABLE
    assert message == not_available("github", NS, "<name>", "beta").message
    assert f"create it with the label {OWNER_LABEL}=beta" in message
    assert "acme" not in message and "exist" not in message
    assert bao.routed == []


def test_the_owner_is_the_label_and_an_empty_label_is_no_owner() -> None:
    assert owner_of({OWNER_LABEL: "acme", "team": "x"}) == "acme"
    assert owner_of({OWNER_LABEL: ""}) is None
    assert owner_of({}) is None
    assert owner_of(None) is None
