"""``tenant-operator``: run the operator or one of its tools (the dev stack: ``make dev``)."""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tenant_operator.api import crdgen

Command = Callable[[argparse.Namespace], int]


def cmd_crds(args: argparse.Namespace) -> int:
    """Write (or, with --check, compare) the CRDs generated from the API models."""
    out = Path(args.out)
    if args.check:
        stale = crdgen.stale_crds(out)
        for name in stale:
            print(f"{out / name} differs from the models; run `make crds`", file=sys.stderr)
        return 1 if stale else 0
    for path in crdgen.write_crds(out):
        print(path)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the operator (settings from the environment)."""
    import kopf
    from pydantic import ValidationError

    from tenant_operator import handlers  # noqa: F401  (registers the handlers)
    from tenant_operator.adapters.kubernetes.peering import PeeringConfig, peering_identity
    from tenant_operator.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:  # e.g. sharded without a shard: refuse, saying why
        reasons = "; ".join(
            ": ".join([*map(str, e["loc"]), str(e["msg"]).removeprefix("Value error, ")])
            for e in exc.errors()
        )
        print(f"tenant-operator: refusing to start: {reasons}", file=sys.stderr)
        return 2
    logging.getLogger().handlers.clear()  # kopf installs its own handler and format
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=args.verbose, log_format=log_format, log_refkey="object")
    liveness = (
        f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
    )
    peering = PeeringConfig(
        name=None if args.standalone else settings.scope.peering_name("tenant-operator"),
        identity=peering_identity(),
        priority=args.priority,
    )
    kopf.run(
        namespaces=list(settings.allowed_secret_namespaces),
        standalone=args.standalone,
        peering_name=peering.name,
        priority=peering.priority,
        identity=peering.identity,  # type: ignore[arg-type]  # kopf's Identity: NewType(str)
        liveness_endpoint=liveness,
        memo=kopf.Memo(settings=settings, peering=peering),
    )
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the plan the operator would act on for a Tenant manifest (no I/O)."""
    import json
    from dataclasses import asdict

    import yaml

    from tenant_operator.domain.errors import PermanentError
    from tenant_operator.domain.plan import build_plan
    from tenant_operator.flows import parse_tenant
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


def cmd_verify_audit(args: argparse.Namespace) -> int:
    """Verify audit chains against their heads in OpenBao; name the first broken chain and seq."""
    import asyncio

    from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
    from tenant_operator.adapters.postgres.verify_command import verify_audit_command
    from tenant_operator.settings import Settings

    settings = Settings()
    dsn = settings.database_url.get_secret_value()
    vault = OpenBaoTenants(settings)  # the mirrored heads and digest keys
    try:
        return asyncio.run(
            verify_audit_command(
                dsn, settings, args.tenant, chain=args.chain, all_chains=args.all, vault=vault
            )
        )
    finally:
        vault.close()


def cmd_bootstrap_roles(_args: argparse.Namespace) -> int:
    """Create the operator's roles and the audit guard (run once, with a superuser's DSN)."""
    import asyncio
    import os

    from tenant_operator.adapters.postgres.bootstrap_command import (
        PASSWORD_ENV,
        bootstrap_command,
    )
    from tenant_operator.settings import Settings

    settings = Settings()
    dsn = settings.database_url.get_secret_value()
    return asyncio.run(bootstrap_command(dsn, settings, os.environ.get(PASSWORD_ENV)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tenant-operator", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    crds = sub.add_parser("crds", help=cmd_crds.__doc__)
    crds.add_argument("--out", default="crds", help="directory of the CRD files (default: crds)")
    crds.add_argument("--check", action="store_true", help="fail if the files are stale")
    crds.set_defaults(func=cmd_crds)

    run = sub.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("--standalone", action="store_true", help="no peering (one replica)")
    run.add_argument("--priority", type=int, default=0, help="peering priority")
    run.set_defaults(func=cmd_run)

    plan = sub.add_parser("plan", help=cmd_plan.__doc__)
    plan.add_argument("manifest", help="YAML file with one or more Tenant documents")
    plan.set_defaults(func=cmd_plan)

    verify = sub.add_parser("verify-audit", help=cmd_verify_audit.__doc__)
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--tenant", help="tenant slug: its current chain (default: the platform's)")
    which.add_argument("--chain", help="a chain by name: <slug>, <slug>@<uuid> or _platform")
    which.add_argument(
        "--all", action="store_true", help="every chain in PostgreSQL and every mirrored head"
    )
    verify.set_defaults(func=cmd_verify_audit)

    bootstrap = sub.add_parser(
        "bootstrap-roles",
        help=cmd_bootstrap_roles.__doc__,
        description="Create (idempotently) the owner, application and operator roles, their "
        "grants and the audit guard's event triggers in the database of DATABASE_URL, which "
        "here is a superuser's DSN (event triggers need one). The operator role's password "
        "is read from TENANT_OPERATOR_OPERATOR_PASSWORD; role names from the "
        "TENANT_OPERATOR_*_ROLE settings. Prints what it did and the operator's DSN shape.",
    )
    bootstrap.set_defaults(func=cmd_bootstrap_roles)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func: Command = args.func
    return func(args)
