"""An operator killed in the middle of an export or an erasure: its successor finishes the
request, doing nothing twice.

The operator is held at a known point by a lock taken in PostgreSQL (a real wait, not a
hook in the code), SIGKILLed while it waits, and started again once the lock is gone:
mid-export it is reading the tenant's rows for the bundle; mid-erasure it has destroyed
the subject's invite in OpenBao and recorded that, and is deleting her rows.
"""

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.e2e.operator.conftest import DB, Stack, unique
from tests.e2e.operator.test_data_requests import (
    bundle_path,
    request,
    tenant_with_member,
    verify_export,
    wait_condition,
)


@contextmanager
def held(stack: Stack, statement: str, params: list[object]) -> Iterator[None]:
    """``statement`` run in a transaction kept open (its locks held) until the block ends."""
    with psycopg.connect(stack.pg.dsn(DB)) as conn:
        conn.execute(statement.encode(), params)
        yield
        conn.rollback()


def wait_blocked(stack: Stack, *words: str) -> None:
    """Until an operator's statement holding each of ``words`` waits for a lock."""

    def blocked() -> bool:
        rows = stack.sql(
            "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND usename <> current_user"
        )
        return any(all(w in q for w in words) for (q,) in rows)

    stack.wait(f"the operator waiting on a lock in {words}", blocked, timeout=60)


def kill(stack: Stack) -> None:
    pid = stack.operator.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    stack.operator.stop()


def test_an_export_killed_mid_way_is_finished_once_by_the_next_operator(
    stack: Stack, tmp_path: Path
) -> None:
    slug = unique("dsr-kx")
    tenant_with_member(stack, slug, f"kim@{slug}.example", "Kim Killed")
    name = unique("export")
    with held(stack, "LOCK TABLE integraci.accounts IN ACCESS EXCLUSIVE MODE", []):
        request(stack, name, tenant=slug, type="Export", destination=f"file://{tmp_path}")
        wait_blocked(stack, "accounts", "to_json")  # reading her rows for the bundle
        kill(stack)
    assert list(tmp_path.iterdir()) == [], "nothing reached the destination before the kill"
    stack.operator.start()
    obj = wait_condition(stack, name, "Completed", "True", timeout=120)
    path = bundle_path(obj)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # one bundle, no partial
    checked = verify_export(stack, path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    work = Path(stack.operator.env["TENANT_OPERATOR_EXPORT_WORK_DIR"])
    assert list(work.iterdir()) == [], "the killed run's staging was removed at the restart"


def test_an_erasure_killed_mid_way_is_finished_once_by_the_next_operator(stack: Stack) -> None:
    slug = unique("dsr-ke")
    email = f"kai@{slug}.example"
    tenant_id, member = tenant_with_member(stack, slug, email, "Kai Killed")
    kv = stack.bao_root(f"tenants/{slug}")
    kv.secrets.kv.v2.create_or_update_secret(
        f"invites/account-{member}", secret={"email": email}, mount_point="kv"
    )
    name = unique("erase")
    row_lock = "SELECT 1 FROM integraci.accounts WHERE id = %s FOR UPDATE"
    with held(stack, row_lock, [uuid.UUID(member)]):
        request(stack, name, tenant=slug, type="Erasure", subject={"email": email})
        wait_blocked(stack, "DELETE", "accounts")  # invite destroyed and recorded; rows next
        ((phase,),) = stack.sql("SELECT phase FROM integraci.data_requests WHERE name = %s", [name])
        assert phase == "secrets-erased"
        kill(stack)
    # The killed transaction rolled back: her rows are all there still.
    assert stack.sql(
        "SELECT count(*) FROM integraci.accounts WHERE id = %s", [uuid.UUID(member)]
    ) == [(1,)]
    stack.operator.start()
    obj = wait_condition(stack, name, "Completed", "True", timeout=120)
    counts = {e["where"]: e["count"] for e in obj["status"]["erasure"]["erased"]}
    assert counts["openbao:invites"] == 1  # destroyed once, before the kill; not again
    assert counts["postgres:accounts"] == 1
    assert counts["postgres:pipeline_runs"] == counts["postgres:deploy_events"] == 1
    records = stack.sql(
        "SELECT count(*) FROM integraci.audit_log WHERE chain = %s AND action = 'subject.erased'",
        [slug],
    )
    assert records == [(1,)], "one erasure record in the chain"
    rotations = stack.sql(
        "SELECT count(*) FROM integraci.tenant_keys WHERE tenant_id = %s", [tenant_id]
    )
    assert rotations == [(1,)], "one new data key (the old one trimmed), not one per run"
    time.sleep(5)  # the recheck timer (every 2 s here) looks at it again: nothing changes
    again = wait_condition(stack, name, "Completed", "True")
    assert again["status"]["erasure"] == obj["status"]["erasure"]
