"""``tenant-operator crds``: write or check the CRDs generated from the API models."""

import argparse
import sys
from pathlib import Path

from tenant_operator.api import crdgen


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
