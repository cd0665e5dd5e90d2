"""TenantDataRequest end to end: exports that verify, a subject erased everywhere, bad input.

Against the real kube-apiserver, PostgreSQL and OpenBao, with the operator as a subprocess
(its least-privilege token); bundles go to a directory destination (``file://``).
"""

import asyncio
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import bcrypt
import hvac
import pytest
from kubernetes.client.exceptions import ApiException

from tenant_operator.adapters.storage import S3Destination, open_destination
from tenant_operator.domain import envelope
from tenant_operator.settings import Settings
from tests.e2e.operator.conftest import GROUP, VERSION, Stack, unique
from tests.support.keys import sealed

PLURAL = "tenantdatarequests"


def request(stack: Stack, name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TenantDataRequest",
        "metadata": {"name": name},
        "spec": spec,
    }
    obj: dict[str, Any] = stack.custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    return obj


def get(stack: Stack, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = stack.custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    return obj


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    return None


def wait_condition(
    stack: Stack, name: str, type_: str, status: str, timeout: float = 90
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = get(stack, name)
        found = condition(obj, type_)
        return obj if found and found["status"] == status else None

    result: dict[str, Any] = stack.wait(f"{name} {type_}={status}", reached, timeout)
    return result


def tenant_with_member(
    stack: Stack, slug: str, email: str, name: str, **spec: Any
) -> tuple[uuid.UUID, str]:
    """A Ready tenant (``spec``) with a member account (sealed, as the application writes
    it) who started a pipeline run and a deploy; returns (tenant id, member id)."""
    stack.apply_tenant(slug, **spec)
    stack.wait_ready(slug)
    ((tenant_id,),) = stack.sql("SELECT id FROM integraci.tenants WHERE slug = %s", [slug])
    keys = stack.key_ring(tenant_id)
    member = uuid.uuid4()
    stack.sql(
        "INSERT INTO integraci.accounts (tenant_id, id, email_enc, name_enc, email_bidx,"
        " key_version) VALUES (%s, %s, %s, %s, %s, %s)",
        [tenant_id, member, *sealed(keys, email, name), keys.current.version],
    )
    stack.sql(
        "INSERT INTO integraci.pipeline_runs (tenant_id, pipeline, status, triggered_by)"
        " VALUES (%s, 'build', 'ok', %s), (%s, 'test', 'ok', NULL)",
        [tenant_id, member, tenant_id],
    )
    stack.sql(
        "INSERT INTO integraci.deploy_events (tenant_id, environment, version, deployed_by)"
        " VALUES (%s, 'prod', 'v1', %s)",
        [tenant_id, member],
    )
    return tenant_id, str(member)


def verify_export(stack: Stack, path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **{k: stack.operator.env[k] for k in ("BAO_ADDR", "BAO_CACERT", "BAO_TOKEN")},
    }
    cli = Path(sys.executable).with_name("tenant-operator")
    return subprocess.run(
        [str(cli), "verify-export", str(path)], env=env, capture_output=True, text=True, check=False
    )


def pg_dump(stack: Stack) -> bytes:
    """The e2e database's rows as ``pg_dump --data-only`` writes them (a backup)."""
    return subprocess.run(
        [str(stack.pg.bin_dir / "pg_dump"), "--data-only", stack.pg.dsn("e2e")],
        capture_output=True,
        check=True,
    ).stdout


def kv_values(kv: hvac.Client, path: str = "") -> dict[str, str]:
    """Every version still readable of every secret under ``path`` of the tenant's mount."""
    found: dict[str, str] = {}
    listed = kv.secrets.kv.v2.list_secrets(path, mount_point="kv")["data"]["keys"]
    for key in listed:
        if key.endswith("/"):
            found.update(kv_values(kv, path + key))
            continue
        meta = kv.secrets.kv.v2.read_secret_metadata(path + key, mount_point="kv")["data"]
        for version, info in meta["versions"].items():
            if info["destroyed"]:
                continue
            try:  # deletion_time may be a scheduled expiry (an invite's): read to know
                data = kv.secrets.kv.v2.read_secret_version(
                    path + key,
                    version=int(version),
                    mount_point="kv",
                    raise_on_deleted_version=True,
                )
            except hvac.exceptions.InvalidPath:
                continue
            found[f"{path}{key}@{version}"] = json.dumps(data["data"]["data"])
    return found


def s3_bucket(stack: Stack) -> str:
    """A new bucket on the stack's S3 server (made by its admin: the operator makes none)."""
    name = f"dsr-{uuid.uuid4().hex[:8]}"
    assert s3_of(stack, f"s3://{name}")._send("PUT").status_code == 200
    return name


def s3_of(stack: Stack, url: str) -> S3Destination:
    env = {k: stack.operator.env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    opened = open_destination(url, Settings(s3_endpoint=stack.s3.endpoint), env)
    assert isinstance(opened, S3Destination)
    return opened


def fetched(stack: Stack, obj: dict[str, Any], tmp_path: Path) -> Path:
    """The request's bundle, downloaded from S3."""
    location = obj["status"]["export"]["location"]
    directory, _, name = location.rpartition("/")
    path = tmp_path / name
    asyncio.run(s3_of(stack, directory).fetch(name, path))
    return path


def bundle_path(obj: dict[str, Any]) -> Path:
    location = obj["status"]["export"]["location"]
    assert location.startswith("file://")
    return Path(location.removeprefix("file://"))


def test_whole_tenant_export_verifies_and_a_flipped_byte_is_detected(
    stack: Stack, tmp_path: Path
) -> None:
    slug = unique("dsr-exp")
    tenant_with_member(stack, slug, f"mia@{slug}.example", "Mia Member")
    name = unique("export")
    request(stack, name, tenant=slug, type="Export", destination=f"file://{tmp_path}")
    obj = wait_condition(stack, name, "Completed", "True")
    assert condition(obj, "Ready")["status"] == "True"  # type: ignore[index]
    assert condition(obj, "Overdue")["status"] == "False"  # type: ignore[index]
    status = obj["status"]
    assert status["receivedAt"] < status["dueAt"]
    path = bundle_path(obj)
    assert path.name == f"{name}-{obj['metadata']['uid']}.tar"
    checked = verify_export(stack, path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with tarfile.open(path) as tar:
        accounts = tar.extractfile("tables/accounts.jsonl")
        assert accounts is not None
        text = accounts.read().decode()
    assert f"mia@{slug}.example" in text and "password_hash" not in text
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped = tmp_path / "flipped.tar"
    flipped.write_bytes(bytes(data))
    assert verify_export(stack, flipped).returncode != 0


def test_exports_to_s3_verify_and_hold_no_secret_value_or_password_hash(
    stack: Stack, tmp_path: Path
) -> None:
    slug = unique("dsr-s3")
    token = f"ghp-{slug}-planted-connector-token"
    stack.put_secret(f"{slug}-gh", {"token": token}, owner=slug)
    github = {
        "name": "github",
        "type": "github",
        "config": {"org": slug},
        "secretRef": {"namespace": "tenant-secrets", "name": f"{slug}-gh"},
    }
    email = f"sam@{slug}.example"
    _, member = tenant_with_member(stack, slug, email, "Sam Subject", connectors=[github])
    password_hash = bcrypt.hashpw(b"planted password", bcrypt.gensalt(12)).decode()
    stack.sql(
        "UPDATE integraci.accounts SET password_hash = %s WHERE id = %s",
        [password_hash, uuid.UUID(member)],
    )
    bucket = s3_bucket(stack)
    subject, whole = unique("export-sam"), unique("export-all")
    request(
        stack,
        subject,
        tenant=slug,
        type="Export",
        subject={"email": email},
        destination=f"s3://{bucket}/dsr",
    )
    request(stack, whole, tenant=slug, type="Export", destination=f"s3://{bucket}/dsr")
    for name in (subject, whole):
        obj = wait_condition(stack, name, "Completed", "True")
        uid = obj["metadata"]["uid"]
        assert obj["status"]["export"]["location"] == f"s3://{bucket}/dsr/{name}-{uid}.tar"
        path = fetched(stack, obj, tmp_path)
        checked = verify_export(stack, path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        data = path.read_bytes()
        assert email.encode() in data  # her data, readable
        for planted in (token, password_hash, "planted password"):
            assert planted.encode() not in data, f"{name} holds a planted secret"
        assert b"password_hash" not in data
        if name == subject:  # one person's export names nobody else
            assert f"jane@{slug}".encode() not in data
            with tarfile.open(path) as tar:
                manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            assert manifest["subject"]["dataHeld"] is True


def test_subject_erasure_leaves_nothing_readable_and_is_recorded(
    stack: Stack, tmp_path: Path
) -> None:
    slug = unique("dsr-era")
    email, person = f"eve@{slug}.example", "Eve Erased"
    tenant_id, member = tenant_with_member(stack, slug, email, person)
    # OpenBao data about her: an invite kept for her account (written as the platform would).
    kv = stack.bao_root(f"tenants/{slug}")
    kv.secrets.kv.v2.create_or_update_secret(
        f"invites/account-{member}", secret={"email": email}, mount_point="kv"
    )
    name = unique("erase")
    request(stack, name, tenant=slug, type="Erasure", subject={"email": email})
    obj = wait_condition(stack, name, "Completed", "True")
    erasure = obj["status"]["erasure"]
    counts = {e["where"]: (e["action"], e["count"]) for e in erasure["erased"]}
    assert counts["postgres:accounts"] == ("erased", 1)
    assert counts["postgres:pipeline_runs"] == ("anonymised", 1)
    assert counts["postgres:deploy_events"] == ("anonymised", 1)
    assert counts["openbao:invites"] == ("destroyed", 1)
    assert erasure["keyRotatedAt"] and erasure["backupsClearAt"]
    assert erasure["keyVersionsTrimmedAt"]  # the e2e stack keeps no backups (retention 0)
    # Nothing left: rows, the link in kept rows, OpenBao, and a later export.
    assert (
        stack.sql(
            "SELECT 1 FROM integraci.accounts WHERE tenant_id = %s AND id = %s", [tenant_id, member]
        )
        == []
    )
    assert stack.sql(
        "SELECT count(*) FROM integraci.pipeline_runs WHERE tenant_id = %s", [tenant_id]
    ) == [(2,)]
    assert (
        stack.sql(
            "SELECT 1 FROM integraci.pipeline_runs WHERE triggered_by = %s", [uuid.UUID(member)]
        )
        == []
    )
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.secrets.kv.v2.read_secret_version(
            f"invites/account-{member}", mount_point="kv", raise_on_deleted_version=True
        )
    stored = kv_values(kv)  # every version of every secret the tenant's mount holds
    assert stored and not [p for p, text in stored.items() if email in text or person in text]
    dump = pg_dump(stack)
    assert email.encode() not in dump and person.encode() not in dump
    actions = stack.sql(
        "SELECT action, detail FROM integraci.audit_log WHERE chain = %s ORDER BY seq", [slug]
    )
    erased = [detail for action, detail in actions if action == "subject.erased"]
    assert len(erased) == 1 and email not in str(erased[0])
    later = unique("export")
    request(stack, later, tenant=slug, type="Export", destination=f"file://{tmp_path}")
    bundle = bundle_path(wait_condition(stack, later, "Completed", "True")).read_bytes()
    assert email.encode() not in bundle and person.encode() not in bundle
    # Her old key version is gone: the wrapped key of before no longer unwraps.
    rows = stack.sql("SELECT version FROM integraci.tenant_keys WHERE tenant_id = %s", [tenant_id])
    assert [v for (v,) in rows] == [2]


def test_bad_requests_get_clear_conditions_and_touch_nothing(stack: Stack, tmp_path: Path) -> None:
    slug = unique("dsr-bad")
    stack.apply_tenant(slug)
    stack.wait_ready(slug)
    owner = unique("owner")
    request(stack, owner, tenant=slug, type="Erasure", subject={"email": f"jane@{slug}.example"})
    obj = wait_condition(stack, owner, "Stalled", "True")
    assert condition(obj, "Ready")["reason"] == "OwnerNotErasable"  # type: ignore[index]
    assert "change spec.owner" in condition(obj, "Ready")["message"]  # type: ignore[index]
    assert stack.sql(
        "SELECT count(*) FROM integraci.accounts a JOIN integraci.tenants t ON t.id = a.tenant_id"
        " WHERE t.slug = %s",
        [slug],
    ) == [(1,)]
    nobody = unique("nobody")
    request(stack, nobody, tenant=slug, type="Erasure", subject={"email": "no@one.example"})
    assert (
        condition(wait_condition(stack, nobody, "Stalled", "True"), "Ready")["reason"]  # type: ignore[index]
        == "SubjectNotFound"
    )
    held = unique("noheld")
    request(
        stack,
        held,
        tenant=slug,
        type="Export",
        subject={"email": "no@one.example"},
        destination=f"file://{tmp_path}",
    )
    done = wait_condition(stack, held, "Completed", "True")
    assert condition(done, "Completed")["reason"] == "NoDataHeld"  # type: ignore[index]
    missing = unique("missing")
    request(stack, missing, tenant=unique("absent"), type="Export")
    stalled = wait_condition(stack, missing, "Stalled", "True")
    assert condition(stalled, "Ready")["reason"] == "TenantNotFound"  # type: ignore[index]


def test_the_crd_refuses_changes_and_an_erasure_without_subject(stack: Stack) -> None:
    with pytest.raises(ApiException) as refused:
        request(stack, unique("nosubj"), tenant="acme", type="Erasure")
    assert "names its subject" in str(refused.value.body)
    name = unique("fixed")
    request(stack, name, tenant="acme", type="Export", destination="file:///tmp")
    with pytest.raises(ApiException) as changed:
        stack.custom.patch_cluster_custom_object(
            GROUP, VERSION, PLURAL, name, {"spec": {"tenant": "other"}}
        )
    assert "cannot be changed" in str(changed.value.body)


def test_a_dump_taken_before_a_tenant_delete_no_longer_opens(stack: Stack) -> None:
    slug = unique("dsr-del")
    email, person = f"dora@{slug}.example", "Dora Deleted"
    tenant_id, member = tenant_with_member(stack, slug, email, person, deletionPolicy="Delete")
    dump = pg_dump(stack)
    assert email.encode() not in dump and person.encode() not in dump
    wrapped = stack.sql(
        "SELECT wrapped FROM integraci.tenant_keys WHERE tenant_id = %s", [tenant_id]
    )
    assert wrapped and all(w.encode() in dump for (w,) in wrapped)  # the backup holds them
    ((sealed_email,),) = stack.sql(
        "SELECT email_enc FROM integraci.accounts WHERE id = %s", [uuid.UUID(member)]
    )
    keys = stack.key_ring(tenant_id)  # before the deletion the backup's keys open her row
    assert keys.open(bytes(sealed_email), envelope.ACCOUNT_EMAIL) == email

    stack.delete_tenant(slug)
    stack.wait_gone(slug)
    transit = stack.bao_root(stack.settings.bao_namespace)
    for (w,) in wrapped:  # the transit key is destroyed: the backup's wrapped keys are dead
        with pytest.raises(hvac.exceptions.VaultError):
            transit.adapter.post(
                f"/v1/{stack.settings.transit_mount}/decrypt/tenant-{slug}",
                json={"ciphertext": w},
            )
