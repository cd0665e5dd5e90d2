"""The finalizer of a reserved slug never touches OpenBao objects that are not the tenant's.

Orchestration only (apply_deletion_policy over recording ports); the real services are
exercised in tests/e2e/operator/test_reserved_slugs.py.
"""

import asyncio
from typing import Any, cast

import pytest

from tenant_operator.controller.deletion import apply_deletion_policy
from tenant_operator.controller.ports import Ports
from tenant_operator.domain.reserved import NameContext


class Recorder:
    def __init__(self, chain: bool = True) -> None:
        self.calls: list[str] = []
        self.chain = chain

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"{name}({', '.join(map(str, args))})")
            if name == "head":
                return object() if self.chain else None
            if name == "registered":  # no registry row that belongs to another Tenant
                return None
            return name.startswith("drop")

        return call


def ports(recorder: Recorder) -> Ports:
    return cast(
        Ports,
        type("P", (), {"db": recorder, "bao": recorder, "audit": recorder, "actor": "op"})(),
    )


def body(slug: str, policy: str) -> dict[str, Any]:
    return {"metadata": {"name": slug}, "spec": {"deletionPolicy": policy}}


@pytest.mark.parametrize(
    ("slug", "layout"), [("operator", "mount"), ("cubbyhole", "namespace"), ("sys", "namespace")]
)
def test_delete_erases_postgres_and_leaves_the_reserved_openbao_path(
    slug: str, layout: str
) -> None:
    recorder = Recorder()
    done = asyncio.run(
        apply_deletion_policy(body(slug, "Delete"), ports(recorder), NameContext(layout=layout))  # type: ignore[arg-type]
    )
    assert f"drop_tenant({slug})" in recorder.calls  # PostgreSQL: the registry row
    assert recorder.calls.count(f"drop_tenant({slug})") == 1  # never OpenBao's
    assert any("left OpenBao untouched" in d for d in done)


def test_a_kubernetes_collision_erases_the_tenants_own_openbao_objects() -> None:
    recorder = Recorder()
    asyncio.run(apply_deletion_policy(body("secrets", "Delete"), ports(recorder), NameContext()))
    assert recorder.calls.count("drop_tenant(secrets)") == 2  # OpenBao, then PostgreSQL


def test_retain_of_a_never_provisioned_reserved_slug_writes_nothing() -> None:
    recorder = Recorder(chain=False)
    done = asyncio.run(
        apply_deletion_policy(body("secrets", "Retain"), ports(recorder), NameContext())
    )
    assert recorder.calls == ["registered(secrets)", "head(secrets)"]
    assert "never provisioned" in done[0]
