"""``tenant-operator run``: the operator itself (the one command that starts kopf)."""

import argparse
import logging
import sys


def cmd_run(args: argparse.Namespace) -> int:
    """Run the operator (settings from the environment)."""
    import kopf
    from pydantic import ValidationError

    from tenant_operator import handlers  # noqa: F401  (registers the handlers)
    from tenant_operator.adapters.kubernetes.peering import (
        PeeringConfig,
        peering_identity,
        replica_priority,
    )
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
        priority=replica_priority(args.priority, standalone=args.standalone),
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
