"""``tenant-operator verify-export``: check an export bundle's every byte and its signature."""

import argparse


def cmd_verify_export(args: argparse.Namespace) -> int:
    """Verify an export bundle: every member hashed and listed, the tar exact, the signature."""
    import asyncio
    from collections.abc import Callable
    from pathlib import Path

    from tenant_operator.domain.bundle import BundleInvalid, verify_path
    from tenant_operator.domain.errors import OperatorError

    path = Path(args.file)
    try:
        lookup: Callable[[int], str | None]
        if args.public_key:
            pem = Path(args.public_key).read_text()
            lookup = lambda _version: pem  # noqa: E731  (every version: the key given)
        else:
            from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
            from tenant_operator.settings import Settings

            bao = OpenBaoTenants(Settings())
            try:
                keys = asyncio.run(bao.export_public_keys())
            finally:
                bao.close()
            lookup = keys.get
        verified = verify_path(path, lookup)
    except BundleInvalid as exc:
        print(f"{path}: INVALID: {exc}")
        return 1
    except (OperatorError, OSError, ValueError) as exc:
        print(f"{path}: cannot verify: {exc}")
        return 2
    m = verified.manifest
    subject = "the whole tenant" if m.subject is None else json_subject(m.subject)
    print(
        f"{path}: OK ({verified.size} bytes, signed by {m.signed_by['key']} "
        f"v{m.signed_by['version']})"
    )
    print(f"  tenant {m.tenant['slug']} ({m.tenant['id']}), {subject}, exported {m.exported_at}")
    print(
        f"  audit chain {m.audit['chain']} at seq {m.audit['seq']}: "
        f"{'verified' if m.audit['verified'] else 'NOT verified'}, {m.audit['entries']} entries"
    )
    for entry in m.files:
        print(f"  {entry.path}: {entry.rows} rows, {entry.bytes} bytes, sha256 {entry.sha256}")
    return 0


def json_subject(subject: object) -> str:
    import json

    return "subject " + json.dumps(subject, sort_keys=True)
