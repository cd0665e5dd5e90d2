"""Small export bundles signed with a throwaway Ed25519 key (as OpenBao transit signs)."""

import base64
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tenant_operator.adapters.export.bundle import BundleWriter
from tenant_operator.domain import bundle
from tenant_operator.domain.bundle import Manifest, Signature


class LocalSigner:
    """An Ed25519 key signing like transit: ``vault:v<version>:<base64 signature>``."""

    def __init__(self, version: int = 1) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.version = version

    def sign(self, data: bytes) -> str:
        return f"vault:v{self.version}:" + base64.b64encode(self.key.sign(data)).decode()

    @property
    def pem(self) -> str:
        public = self.key.public_key()
        return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    def public_key(self, version: int) -> str | None:
        return self.pem if version == self.version else None


def small_bundle(out: Path, signer: LocalSigner, rows: int = 3) -> Path:
    """A bundle of one table (quoted newlines, nulls, jsonb), audit entries, connectors."""
    with BundleWriter(out.parent) as writer:
        table = writer.table("pipeline_runs", ("id", "pipeline", "status", "meta"))
        table.write_rows(
            [
                (uuid.UUID(int=i), f"build\n{i}", 'ok, "done"', {"n": i, "x": None})
                for i in range(rows)
            ]
        )
        writer.jsonl(bundle.AUDIT_FILE, ("seq", "action")).write_rows([(1, "tenant.created")])
        writer.add_json(bundle.CONNECTORS_FILE, [{"name": "github", "config": {"org": "acme"}}])
        manifest = Manifest(
            tenant={"slug": "acme", "id": str(uuid.UUID(int=7))},
            subject=None,
            exported_at="2026-12-02T08:00:00+00:00",
            files=writer.files,
            audit={"chain": "acme", "seq": 1, "head": "ab" * 32, "verified": True, "entries": 1},
            sub_processors=({"name": "stripe", "purpose": "billing"},),
            signed_by={"key": bundle.SIGNING_KEY, "version": signer.version},
        )
        data = manifest.to_bytes()
        sig = Signature(bundle.SIGNING_KEY, signer.sign(data)).to_bytes()
        tar, _ = writer.assemble(data, sig, manifest.mtime)
        tar.rename(out)
    return out
