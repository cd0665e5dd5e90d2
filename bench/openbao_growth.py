"""How OpenBao's cost per tenant grows with the number of tenants, and why (a profile).

    .venv/bin/python -m bench.openbao_growth [--tenants 3000] [--step 500] [--layout namespace]

Starts OpenBao on raft storage (``durable=True``, as a production OpenBao runs), provisions
tenants with the operator's own adapter (``OpenBaoTenants.ensure_tenant``, 8 in flight, as
``max_concurrent_reconciles`` does) and prints tenants/s for each ``--step``. During the last
step it takes a 20 s CPU profile of OpenBao (``sys/pprof/profile``, root token) and prints
its top functions (``go tool pprof -top``; Go must be on PATH), so a slope is explained by
where OpenBao spends its time, not guessed.
"""

import argparse
import asyncio
import logging
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from pydantic import SecretStr

from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.settings import Settings

IN_FLIGHT = 8
PROFILE_SECONDS = 20


def profile(bao: OpenBaoServer, out: Path) -> None:
    request = urllib.request.Request(
        f"{bao.addr}/v1/sys/pprof/profile?seconds={PROFILE_SECONDS}",
        headers={"X-Vault-Token": bao.root_token},
    )
    context = ssl.create_default_context(cafile=str(bao.ca_cert))
    with urllib.request.urlopen(request, timeout=PROFILE_SECONDS + 30, context=context) as resp:
        out.write_bytes(resp.read())


async def run(args: argparse.Namespace) -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-bao-growth-")) / "openbao.pprof"
    with OpenBaoServer(durable=True) as bao:
        settings = Settings(
            bao_addr=bao.addr,
            bao_cacert=str(bao.ca_cert),
            bao_token=SecretStr(bao.root_token),
            secrets_layout=args.layout,
        )
        tenants = OpenBaoTenants(settings)
        await tenants.ensure_platform()
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int) -> None:
            slug = f"g{i:05d}"
            async with gate:
                await tenants.ensure_tenant(slug, service_accounts=((f"tenant-{slug}", "app"),))

        first = 0.0
        for start in range(0, args.tenants, args.step):
            last = start + args.step >= args.tenants
            profiling = asyncio.create_task(asyncio.to_thread(profile, bao, out)) if last else None
            began = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(start, start + args.step)))
            rate = args.step / (time.perf_counter() - began)
            first = first or rate
            print(
                f"tenants {start + 1:>5}-{start + args.step:<5} {rate:6.1f} tenants/s "
                f"({rate / first:.2f}x the first step)",
                flush=True,
            )
            if profiling:
                await profiling
        tenants.close()
    print(f"OpenBao CPU profile of the last step: {out}")
    go = shutil.which("go")
    if go:
        top = subprocess.run(
            [go, "tool", "pprof", "-top", "-cum", "-nodecount=25", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        print(top.stdout or top.stderr)
    else:
        print("go is not on PATH: read it with `go tool pprof -top -cum` elsewhere")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=3000)
    parser.add_argument("--step", type=int, default=500)
    parser.add_argument("--layout", choices=["namespace", "mount"], default="namespace")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the adapter warns per tenant: no Kubernetes CA here
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
