"""Whole-tenant and subject exports: they verify, tampering is found, no secret is in them.

Real PostgreSQL (the tenant's rows, sealed personal data, its audit chain) and real OpenBao
(the routed connector secret, the transit signing key), through the operator's adapters
and the export use case; the destination is a directory.
"""

import asyncio
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import bcrypt
import pytest
from psycopg import sql

from tenant_operator.adapters.export.bundle import BundleWriter
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.adapters.postgres.audit import AuditLog
from tenant_operator.adapters.postgres.export import PostgresExport
from tenant_operator.adapters.storage import FileDestination
from tenant_operator.cli import main as cli_main
from tenant_operator.controller.export import ExportResult, export
from tenant_operator.domain import bundle
from tenant_operator.domain.bundle import BundleInvalid
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.export import SubjectRef
from tenant_operator.domain.records import (
    ConnectorRecord,
    SubProcessorEntry,
    SubProcessorRecord,
)
from tenant_operator.domain.vocabulary import Isolation, SubProcessorState
from tests.support.keys import ring, sealed
from tests.support.postgres import PgDatabase

CONNECTOR_SECRET = "ghp_planted" + uuid.uuid4().hex
PASSWORD = "planted-password-" + uuid.uuid4().hex[:8]
PASSWORD_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@dataclass
class Planted:
    keys: KeyRing
    slug: str
    owner: uuid.UUID
    member: uuid.UUID
    member_email: str
    invite_token: str
    invite_sha256: bytes


def _run(body: Callable[[], Any]) -> Any:
    return asyncio.run(body())


@pytest.fixture(scope="module")
def planted(pg: PgDatabase, bao: OpenBaoTenants) -> Planted:
    slug = "exp-acme"
    p = pg.settings.platform_schema

    async def build() -> tuple[uuid.UUID, uuid.UUID, str]:
        await bao.ensure_platform()
        await bao.ensure_tenant(slug)
        route = await bao.route_connector(slug, "github", {"token": CONNECTOR_SECRET})
        async with pg.tenants() as tenants:
            state = await tenants.ensure_tenant(
                slug, organisation="Acme Exports Ltd", plan="team", isolation=Isolation.SHARED
            )
            owner = await tenants.ensure_owner_account(
                state.tenant_id,
                name="Olive Owner",
                email="olive@acme.example",
                keys=ring(state.tenant_id),
                organisation="Acme Exports Ltd",
            )
            assert owner.token is not None
            await tenants.ensure_connectors(
                state.tenant_id,
                [ConnectorRecord("github", "github", {"org": "acme"}, route.ref, route.version)],
            )
            await tenants.ensure_subprocessor(
                SubProcessorEntry("stripe", "billing", ("billing contact email",), "US", "SCCs")
            )
            await tenants.ensure_subprocessor_records(
                state.tenant_id, [SubProcessorRecord("stripe", SubProcessorState.ACTIVE)]
            )
        return state.tenant_id, owner.account_id, owner.token

    tenant_id, owner, token = _run(build)
    keys = ring(tenant_id)
    member = uuid.uuid4()
    accounts = sql.Identifier(p, "accounts")
    with pg.superuser() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (tenant_id, id, email_enc, name_enc, email_bidx, key_version,"
                " password_hash) VALUES (%s, %s, %s, %s, %s, 1, %s)"
            ).format(accounts),
            [tenant_id, member, *sealed(keys, "mia@acme.example", "Mia Member"), PASSWORD_HASH],
        )
        for i in range(5):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (tenant_id, pipeline, status, triggered_by)"
                    " VALUES (%s, %s, 'ok', %s)"
                ).format(sql.Identifier(p, "pipeline_runs")),
                [tenant_id, f"build-{i}", member if i < 2 else owner],
            )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (tenant_id, environment, version, deployed_by)"
                " VALUES (%s, 'prod', 'v1', %s)"
            ).format(sql.Identifier(p, "deploy_events")),
            [tenant_id, member],
        )
        row = conn.execute(
            sql.SQL("SELECT invite_token_sha256 FROM {} WHERE id = %s").format(accounts), [owner]
        ).fetchone()
    assert row is not None and row[0] is not None

    async def audit() -> None:
        async with pg.pool() as pool:
            log = AuditLog(pool, pg.settings, bao)
            await log.append(
                slug,
                actor="t",
                action="account.invited",
                target=str(member),
                detail={"email": "mia@acme.example"},
            )
            await log.append(
                slug, actor="t", action="connector.routed", target="github", detail={"version": 1}
            )

    _run(audit)
    return Planted(keys, slug, owner, member, "mia@acme.example", token, bytes(row[0]))


def _export(
    pg: PgDatabase,
    bao: OpenBaoTenants,
    out: Path,
    keys: KeyRing,
    subject: SubjectRef | None,
    request: str = "req",
) -> ExportResult:
    out.mkdir(parents=True, exist_ok=True)

    async def body() -> ExportResult:
        async with pg.pool() as pool:
            source = PostgresExport(pool, pg.settings, bao, batch=2)
            return await export(
                source,
                bao,
                FileDestination(PurePosixPath(out)),
                BundleWriter,
                keys=keys,
                subject=subject,
                request=request,
                uid="u1",
                now=NOW,
            )

    return asyncio.run(body())


def _verify(bao: OpenBaoTenants, data: bytes) -> bundle.Verified:
    keys = asyncio.run(bao.export_public_keys())
    return bundle.verify(io.BytesIO(data), keys.get)


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_whole_tenant_export_verifies_and_holds_no_secret(
    pg: PgDatabase, bao: OpenBaoTenants, planted: Planted, tmp_path: Path
) -> None:
    result = _export(pg, bao, tmp_path, planted.keys, None)
    data = (tmp_path / "req-u1.tar").read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.rows == {
        "tenant": 1,
        "accounts": 2,
        "connectors": 1,
        "pipeline_runs": 5,
        "deploy_events": 1,
        "usage_metrics": 0,
        "subprocessor_records": 1,
        "audit": 2,
    }
    verified = _verify(bao, data)
    manifest = verified.manifest
    assert manifest.tenant == {"slug": planted.slug, "id": str(planted.keys.tenant_id)}
    assert manifest.audit["verified"] is True and manifest.audit["seq"] == 2
    assert manifest.sub_processors[0]["transferMechanism"] == "SCCs"
    files = _members(data)
    accounts = [json.loads(line) for line in files["tables/accounts.jsonl"].splitlines()]
    assert {a["email"] for a in accounts} == {"olive@acme.example", "mia@acme.example"}
    assert set(accounts[0]) == {
        "id",
        "email",
        "name",
        "is_owner",
        "invited_at",
        "created_at",
        "last_login_at",
    }
    assert b"Acme Exports Ltd" in files["tables/tenant.jsonl"]
    assert json.loads(files["connectors.json"])[0]["config"] == {"org": "acme"}
    for needle in (
        CONNECTOR_SECRET.encode(),
        PASSWORD.encode(),
        PASSWORD_HASH.encode(),
        b"$2b$12$",
        planted.invite_token.encode(),
        planted.invite_sha256,
        planted.invite_sha256.hex().encode(),
        hashlib.sha256(planted.invite_token.encode()).hexdigest().encode(),
    ):
        assert needle not in data
    # the CLI says so too, with the public key from OpenBao
    assert verify_cli(bao, tmp_path / "req-u1.tar") == 0


def verify_cli(bao: OpenBaoTenants, path: Path, *extra: str) -> int:
    import os

    env = {
        "BAO_ADDR": bao.settings.bao_addr,
        "BAO_CACERT": str(bao.settings.bao_cacert),
        "BAO_TOKEN": bao.clients(None).token,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cli_main(["verify-export", str(path), *extra])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_subject_export_holds_their_rows_and_entries(
    pg: PgDatabase, bao: OpenBaoTenants, planted: Planted, tmp_path: Path
) -> None:
    result = _export(pg, bao, tmp_path, planted.keys, SubjectRef(email="MIA@acme.example "))
    assert result.rows == {"accounts": 1, "pipeline_runs": 2, "deploy_events": 1, "audit": 1}
    data = (tmp_path / "req-u1.tar").read_bytes()
    manifest = _verify(bao, data).manifest
    assert manifest.subject == {
        "email": "MIA@acme.example ",
        "accountId": str(planted.member),
        "dataHeld": True,
    }
    files = _members(data)
    assert b"olive@acme.example" not in data and b"Olive" not in data
    assert json.loads(files["audit/entries.jsonl"])["target"] == str(planted.member)
    by_id = _export(pg, bao, tmp_path, planted.keys, SubjectRef(id=planted.member), "by-id")
    assert by_id.rows == result.rows
    assert PASSWORD_HASH.encode() not in (tmp_path / "by-id-u1.tar").read_bytes()


def test_unknown_subject_gets_a_valid_bundle_saying_no_data_is_held(
    pg: PgDatabase, bao: OpenBaoTenants, planted: Planted, tmp_path: Path
) -> None:
    result = _export(pg, bao, tmp_path, planted.keys, SubjectRef(email="nobody@acme.example"))
    assert result.data_held is False
    assert result.rows == {"accounts": 0, "pipeline_runs": 0, "deploy_events": 0, "audit": 0}
    manifest = _verify(bao, (tmp_path / "req-u1.tar").read_bytes()).manifest
    assert manifest.subject == {
        "email": "nobody@acme.example",
        "accountId": None,
        "dataHeld": False,
    }


def test_a_second_export_adopts_the_first_and_never_overwrites(
    pg: PgDatabase, bao: OpenBaoTenants, planted: Planted, tmp_path: Path
) -> None:
    first = _export(pg, bao, tmp_path, planted.keys, None)
    before = (tmp_path / "req-u1.tar").stat().st_mtime_ns
    again = _export(pg, bao, tmp_path, planted.keys, None)
    assert again.adopted and again.sha256 == first.sha256 and again.rows == first.rows
    assert (tmp_path / "req-u1.tar").stat().st_mtime_ns == before
    path = tmp_path / "req-u1.tar"
    data = bytearray(path.read_bytes())
    data[600] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(BundleInvalid):
        _export(pg, bao, tmp_path, planted.keys, None)


def test_flipped_bytes_of_a_real_bundle_are_detected(
    pg: PgDatabase, bao: OpenBaoTenants, planted: Planted, tmp_path: Path
) -> None:
    _export(pg, bao, tmp_path, planted.keys, None)
    path = tmp_path / "req-u1.tar"
    data = path.read_bytes()
    keys = asyncio.run(bao.export_public_keys())
    offsets = _regions(data)
    for name, offset in offsets.items():
        flipped = bytearray(data)
        flipped[offset] ^= 0x20
        with pytest.raises(BundleInvalid):
            bundle.verify(io.BytesIO(bytes(flipped)), keys.get)
        path.write_bytes(bytes(flipped))
        assert verify_cli(bao, path) != 0, name
    path.write_bytes(data)
    pem = tmp_path / "key.pem"
    pem.write_text(keys[max(keys)])
    assert verify_cli(bao, path, "--public-key", str(pem)) == 0


def _regions(data: bytes) -> dict[str, int]:
    """A byte in each region: manifest, signature, data, a header, padding, end blocks."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    manifest, sig, runs = (
        members["manifest.json"],
        members["manifest.sig"],
        members["tables/pipeline_runs.csv"],
    )
    return {
        "manifest": manifest.offset_data + 40,
        "signature": sig.offset_data + sig.size - 10,
        "data": runs.offset_data + runs.size // 2,
        "header": runs.offset + 130,
        "padding": runs.offset_data + runs.size + 1 if runs.size % 512 else runs.offset - 1,
        "end": len(data) - 100,
    }
