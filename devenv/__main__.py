"""``python -m devenv`` (``make dev``): the local dev stack.

Starts PostgreSQL, OpenBao, a Kubernetes API and the operator, applies the examples,
prints the settings (the secret ones by name only) and serves until Ctrl-C.
"""

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from devenv.stack import describe_env, dev_stack, write_env_file


def run_dev(args: argparse.Namespace) -> int:
    """Start PostgreSQL, OpenBao, a Kubernetes API and the operator; apply the examples."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
        signal.signal(sig, lambda *_: stop.set())
    env_file = Path(args.env_file)
    with dev_stack(env_file.parent, Path(args.crds)) as stack:
        env = stack.env()
        write_env_file(env_file, env)
        print(f"Local services and the operator are up; settings in {env_file}:\n")
        print(describe_env(env, env_file), flush=True)
        stack.apply(Path(args.examples))
        print("\nWaiting for the example tenants to be Ready...\n", flush=True)
        print(stack.wait_ready(), flush=True)
        print(f'In another shell: source {env_file}; "$KUBECTL" get tenants -o wide;')
        print('  psql "$DATABASE_URL"; .venv/bin/bao status; tail -f "$OPERATOR_LOG"')
        print("Press Ctrl-C to stop and tear everything down.", flush=True)
        stop.wait()
    print("Stopped; local services removed.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devenv", description=run_dev.__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--env-file", default=".dev/env", help="where to write the settings")
    parser.add_argument("--crds", default="crds", help="directory of the CRDs to apply")
    parser.add_argument("--examples", default="examples", help="manifests to apply")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_dev(args)


if __name__ == "__main__":
    sys.exit(main())
