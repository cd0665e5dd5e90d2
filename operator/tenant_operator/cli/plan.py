"""``tenant-operator plan``: the plan the operator would act on for a manifest (no I/O)."""

import argparse
from pathlib import Path


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the plan the operator would act on for a Tenant manifest (no I/O)."""
    import json
    from dataclasses import asdict

    import yaml

    from tenant_operator.controller.planning import build_plan, parse_tenant
    from tenant_operator.domain.errors import PermanentError
    from tenant_operator.settings import Settings

    settings = Settings()
    status = 0
    for doc in yaml.safe_load_all(Path(args.manifest).read_text()):
        if not isinstance(doc, dict) or doc.get("kind") != "Tenant":
            continue
        try:
            plan = build_plan(
                parse_tenant(doc),
                allowed_secret_namespaces=settings.allowed_secret_namespaces,
                service_account_names=settings.tenant_service_accounts,
                workload_namespace_prefix=settings.tenant_workload_namespace_prefix,
            )
        except PermanentError as exc:
            print(f"{doc.get('metadata', {}).get('name')}: {exc.reason}: {exc.message}")
            status = 1
            continue
        print(json.dumps(asdict(plan), default=sorted, indent=2, sort_keys=True))
    return status
