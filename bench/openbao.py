"""Provisions per second of the OpenBao adapter, per layout, against the raw HTTP floor.

Starts its own OpenBao dev server. For each layout it records the exact HTTP requests the
adapter makes to provision one new tenant (method, path, namespace header, JSON body),
then times

* the adapter: ``await OpenBaoTenants.ensure_tenant(slug)`` for N new tenants, one at a
  time (hvac in a worker thread, read-compare-write), and
* the raw floor: the same recorded requests replayed with a plain ``requests.Session``
  (slug substituted), no hvac, no asyncio, no checks (record and replay: bench/floor.py).

Usage: ``.venv/bin/python -m bench.openbao [--tenants 200]``
"""

import argparse
import asyncio
import json
import time

import requests

from bench.floor import Call, Http, Replayer, recording
from devenv.openbao import OpenBaoServer
from tenant_operator.adapters.openbao.tenants import OpenBaoTenants
from tenant_operator.settings import Settings

RECORDED_SLUG = "benchrecorded"


def settings_for(server: OpenBaoServer, layout: str) -> Settings:
    # The mount layout lives in its own namespace so it does not collide with tenants/.
    return Settings(
        bao_addr=server.addr,
        bao_cacert=str(server.ca_cert),
        secrets_layout=layout,
        bao_namespace="vault-oss" if layout == "mount" else None,
    )


def record(server: OpenBaoServer, settings: Settings) -> list[Call]:
    """The HTTP requests one new tenant costs, recorded from the adapter (bench/floor.py)."""
    tenants = OpenBaoTenants(settings, token=server.root_token)
    asyncio.run(tenants.ensure_platform())
    with recording() as rec:
        asyncio.run(tenants.ensure_tenant(RECORDED_SLUG))
    tenants.close()
    return [call for call in rec.calls if isinstance(call, Http)]


def time_adapter(server: OpenBaoServer, settings: Settings, n: int) -> float:
    async def go() -> float:
        tenants = OpenBaoTenants(settings, token=server.root_token)
        await tenants.ensure_platform()
        start = time.perf_counter()
        for i in range(n):
            await tenants.ensure_tenant(f"adapter-{i:05d}")
        elapsed = time.perf_counter() - start
        tenants.close()
        return elapsed

    return asyncio.run(go())


def time_raw(server: OpenBaoServer, calls: list[Call], n: int) -> float:
    replayer = Replayer(bao_token=server.root_token, bao_cacert=str(server.ca_cert))
    start = time.perf_counter()
    for i in range(n):
        replayer.replay(calls, RECORDED_SLUG, f"raw-{i:05d}")
    elapsed = time.perf_counter() - start
    if replayer.mismatches:
        print(f"  ({replayer.mismatches} replayed answers differed from the recorded ones)")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    args = parser.parse_args()
    n = args.tenants
    with OpenBaoServer() as server:
        results = {}
        for layout in ("namespace", "mount"):
            settings = settings_for(server, layout)
            if settings.bao_namespace:
                requests.post(
                    f"{server.addr}/v1/sys/namespaces/{settings.bao_namespace}",
                    headers={"X-Vault-Token": server.root_token},
                    timeout=10,
                    verify=str(server.ca_cert),
                )
            calls = record(server, settings)
            adapter = n / time_adapter(server, settings, n)
            raw = n / time_raw(server, calls, n)
            results[layout] = {
                "http_calls": len(calls),
                "adapter_per_s": round(adapter, 1),
                "raw_per_s": round(raw, 1),
                "ratio": round(adapter / raw, 2),
            }
            print(
                f"{layout:9s}  {len(calls):2d} HTTP calls/provision  adapter {adapter:7.1f}/s"
                f"  raw floor {raw:7.1f}/s  ratio {adapter / raw:.2f}"
            )
        print(json.dumps({"tenants": n, **results}))


if __name__ == "__main__":
    main()
