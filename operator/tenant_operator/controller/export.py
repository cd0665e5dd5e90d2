"""Export a tenant, or one data subject of it, as a signed bundle at a destination.

The bundle is ``<request-name>-<request-uid>.tar``. It is written once: when that object
already exists (a restart after the upload, or a second replica), it is fetched, verified
against the signing key and adopted instead of being written again; one that does not
verify is reported, never replaced. Rows stream from the source into local temp files,
then the tar goes to the destination: memory stays flat in the row count.
"""

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tenant_operator.controller.ports import BundleFiles, Destination, ExportSigner, ExportSource
from tenant_operator.domain import bundle
from tenant_operator.domain.bundle import FileEntry, Manifest, Signature
from tenant_operator.domain.envelope import KeyRing
from tenant_operator.domain.errors import PermanentError
from tenant_operator.domain.export import SubjectRef
from tenant_operator.domain.vocabulary import Reason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    """Where the bundle is, its SHA-256, rows per table, its files; whether data was held."""

    location: str
    sha256: str
    rows: Mapping[str, int]
    files: tuple[FileEntry, ...]
    data_held: bool
    adopted: bool = False


def bundle_name(request: str, uid: str) -> str:
    return f"{request}-{uid}.tar"


def exported_at(now: datetime) -> str:
    return now.astimezone(UTC).replace(microsecond=0).isoformat()


def rows_of(files: tuple[FileEntry, ...]) -> dict[str, int]:
    """Rows per table (and ``audit``), from the manifest's JSON Lines entries."""
    rows = {}
    for entry in files:
        if entry.path.startswith("tables/") and entry.path.endswith(".jsonl"):
            rows[entry.path.removeprefix("tables/").removesuffix(".jsonl")] = entry.rows
        elif entry.path == bundle.AUDIT_FILE:
            rows["audit"] = entry.rows
    return rows


async def export(
    source: ExportSource,
    signer: ExportSigner,
    destination: Destination,
    new_files: Callable[[], BundleFiles],
    *,
    keys: KeyRing,
    subject: SubjectRef | None,
    request: str,
    uid: str,
    now: datetime,
    work_dir: str | None = None,
) -> ExportResult:
    """Write (or adopt) the bundle of request ``request`` (metadata.uid ``uid``);
    ``work_dir``: where a bundle is fetched to be verified (None: the system temp dir)."""
    name = bundle_name(request, uid)
    if await destination.exists(name):
        return await adopt(signer, destination, name, work_dir)
    with new_files() as files:
        facts = await source.export(keys, subject, files)
        versions = await signer.export_public_keys()
        version = max(versions)
        manifest = Manifest(
            tenant={"slug": facts.tenant_slug, "id": str(facts.tenant_id)},
            subject=facts.subject,
            exported_at=exported_at(now),
            files=files.files,
            audit=facts.audit.document(),
            sub_processors=facts.sub_processors,
            signed_by={"key": bundle.SIGNING_KEY, "version": version},
        )
        data = manifest.to_bytes()
        signature = Signature(bundle.SIGNING_KEY, await signer.sign_export(data, version))
        path, sha256 = files.assemble(data, signature.to_bytes(), manifest.mtime)
        try:
            location = await destination.put_new(name, path)
        except PermanentError as exc:
            if exc.reason != Reason.DESTINATION_EXISTS:
                raise
            log.info("export %s: written meanwhile by another run; adopting it", name)
            return await adopt(signer, destination, name, work_dir)
    log.info("export %s: %s (%s)", name, location, sha256)
    return ExportResult(location, sha256, rows_of(manifest.files), manifest.files, facts.data_held)


async def adopt(
    signer: ExportSigner, destination: Destination, name: str, work_dir: str | None = None
) -> ExportResult:
    """The bundle already at the destination, if it verifies (else ExportInvalid)."""
    keys = await signer.export_public_keys()
    with tempfile.TemporaryDirectory(prefix="export-adopt-", dir=work_dir) as tmp:
        path = Path(tmp) / name
        await destination.fetch(name, path)
        verified = bundle.verify_path(path, keys.get)
        sha256 = bundle.file_sha256(path)
    manifest = verified.manifest
    held = manifest.subject is None or bool(manifest.subject.get("dataHeld"))
    log.info("export %s: already at %s and verified; adopted", name, destination.location(name))
    return ExportResult(
        destination.location(name),
        sha256,
        rows_of(manifest.files),
        manifest.files,
        held,
        adopted=True,
    )
