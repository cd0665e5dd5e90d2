"""``tenant-operator``: run the operator, a local dev stack, or one of its tools."""

import argparse
import logging
import signal
import sys
import threading
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


def cmd_dev(args: argparse.Namespace) -> int:
    """Start the local stack, write its settings to --env-file, run until interrupted."""
    from tenant_operator.devenv.stack import dev_stack, render_env, write_env_file

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
        signal.signal(sig, lambda *_: stop.set())
    with dev_stack() as stack:
        env = stack.env()
        write_env_file(Path(args.env_file), env)
        print(f"Local services are up; settings written to {args.env_file}:\n")
        print(render_env(env))
        print(f'In another shell: source {args.env_file}; psql "$DATABASE_URL"; bao status')
        print("Press Ctrl-C to stop and tear everything down.", flush=True)
        stop.wait()
    print("Stopped; local services removed.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tenant-operator", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    crds = sub.add_parser("crds", help=cmd_crds.__doc__)
    crds.add_argument("--out", default="crds", help="directory of the CRD files (default: crds)")
    crds.add_argument("--check", action="store_true", help="fail if the files are stale")
    crds.set_defaults(func=cmd_crds)

    dev = sub.add_parser("dev", help=cmd_dev.__doc__)
    dev.add_argument("--env-file", default=".dev/env", help="where to write the settings")
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
