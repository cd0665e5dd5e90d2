"""``tenant-operator``: run the operator or one of its tools (the dev stack is ``make dev``)."""

# The entry point (``main``, the console script) and the argument parser. Each command is a
# module of its own (run, plan, verify_audit, verify_export, crds, bootstrap_roles, settings)
# that imports what it needs when it runs, so ``--help`` loads neither kopf nor an adapter.

import argparse
import logging
from collections.abc import Callable, Sequence

from tenant_operator.cli.bootstrap_roles import cmd_bootstrap_roles
from tenant_operator.cli.crds import cmd_crds
from tenant_operator.cli.plan import cmd_plan
from tenant_operator.cli.run import cmd_run
from tenant_operator.cli.settings import cmd_settings
from tenant_operator.cli.verify_audit import cmd_verify_audit
from tenant_operator.cli.verify_export import cmd_verify_export

Command = Callable[[argparse.Namespace], int]


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
    run.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority (default: a random one, so that replicas alike do not tie)",
    )
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

    verify_export = sub.add_parser("verify-export", help=cmd_verify_export.__doc__)
    verify_export.add_argument("file", help="the bundle (.tar)")
    verify_export.add_argument(
        "--public-key",
        metavar="PEM",
        help="the signing key's public key (default: read from OpenBao, BAO_ADDR/BAO_TOKEN)",
    )
    verify_export.set_defaults(func=cmd_verify_export)

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

    settings = sub.add_parser("settings", help=cmd_settings.__doc__)
    settings.add_argument(
        "--markdown", action="store_true", help="the README's Configuration table"
    )
    settings.set_defaults(func=cmd_settings)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func: Command = args.func
    return func(args)
