"""Record the calls a real adapter makes, then replay them bare: the raw floor.

:func:`recording` wraps, for the duration of a ``with`` block in this process,

* psycopg's ``AsyncCursor.execute``/``executemany`` (the SQL text as sent, its parameters,
  and the UUIDs of the first result row) and ``AsyncConnection.transaction`` (BEGIN, then
  COMMIT or ROLLBACK), keyed by connection so interleaved transactions stay apart;
* ``requests.Session.send`` (hvac's HTTP to OpenBao: method, URL, namespace header, body);
* the kubernetes client's ``RESTClientObject.request`` (method, URL, body).

:class:`Replayer` issues the same calls with a bare psycopg connection, a plain
``requests.Session`` and raw HTTPS to the kube-apiserver: the recorded slug is replaced by
a new one, and every UUID the server returned when recording (a new tenant id, say) is
replaced by the one it returns when replaying. No checks, no models, no asyncio.
"""

import contextlib
import hashlib
import json
import queue
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import requests
from kubernetes.client import rest
from psycopg.types.json import Jsonb

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Sql:
    conn: int  # which recorded connection (transactions on different ones interleave)
    query: str
    params: Any = None
    many: bool = False
    #: (column, uuid text) of the first result row when recording
    returned: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Http:
    method: str
    url: str
    namespace: str | None
    body: str | None
    status: int  # the answer when recording; a replay answering otherwise is counted


@dataclass(frozen=True)
class Kube:
    method: str
    url: str
    body: Any


Call = Sql | Http | Kube


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)

    def counts(self) -> str:
        sql = [c for c in self.calls if isinstance(c, Sql)]
        tx = sum(1 for c in sql if c.query == "BEGIN")
        return (
            f"{len(sql) - 2 * tx} SQL statements in {tx} transactions, "
            f"{sum(isinstance(c, Http) for c in self.calls)} OpenBao requests, "
            f"{sum(isinstance(c, Kube) for c in self.calls)} Kubernetes calls"
        )


def _text(query: Any, conn: Any) -> str:
    if isinstance(query, bytes):
        return query.decode()
    if isinstance(query, str):
        return query
    return str(query.as_string(conn))


def _uuids(cursor: Any) -> tuple[tuple[int, str], ...]:
    res = cursor.pgresult
    if res is None or res.ntuples < 1:
        return ()
    found = []
    for col in range(res.nfields):
        value = res.get_value(0, col)
        if value is not None and len(value) == 36 and UUID_RE.match(value.decode()):
            found.append((col, value.decode()))
    return tuple(found)


@contextlib.contextmanager
def recording() -> Iterator[Recording]:
    """Record every SQL statement, OpenBao request and Kubernetes call made in the block."""
    rec = Recording()
    lock = threading.Lock()

    def add(call: Call) -> None:
        with lock:
            rec.calls.append(call)

    execute = psycopg.AsyncCursor.execute
    executemany = psycopg.AsyncCursor.executemany
    transaction = psycopg.AsyncConnection.transaction
    send = requests.Session.send
    kube_request = rest.RESTClientObject.request

    async def rec_execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        result = await execute(self, query, params, **kw)
        add(Sql(id(self.connection), _text(query, self.connection), params, False, _uuids(self)))
        return result

    async def rec_executemany(self: Any, query: Any, params_seq: Any, **kw: Any) -> Any:
        params_seq = list(params_seq)
        result = await executemany(self, query, params_seq, **kw)
        add(Sql(id(self.connection), _text(query, self.connection), params_seq, True))
        return result

    @contextlib.asynccontextmanager
    async def rec_transaction(self: Any, *args: Any, **kw: Any) -> AsyncIterator[Any]:
        conn = id(self)
        add(Sql(conn, "BEGIN"))
        try:
            async with transaction(self, *args, **kw) as tx:
                yield tx
        except BaseException:
            add(Sql(conn, "ROLLBACK"))
            raise
        add(Sql(conn, "ROLLBACK" if kw.get("force_rollback") else "COMMIT"))

    def rec_send(self: Any, prepared: Any, **kw: Any) -> Any:
        raw = prepared.body
        body = raw.decode() if isinstance(raw, bytes) else raw if isinstance(raw, str) else None
        answer = send(self, prepared, **kw)
        namespace = prepared.headers.get("X-Vault-Namespace")
        add(Http(prepared.method, prepared.url, namespace, body, answer.status_code))
        return answer

    def rec_kube(self: Any, method: str, url: str, *args: Any, **kw: Any) -> Any:
        body = kw.get("body", args[1] if len(args) > 1 else None)
        add(Kube(method, url, body))
        return kube_request(self, method, url, *args, **kw)

    patches = [
        (psycopg.AsyncCursor, "execute", rec_execute),
        (psycopg.AsyncCursor, "executemany", rec_executemany),
        (psycopg.AsyncConnection, "transaction", rec_transaction),
        (requests.Session, "send", rec_send),
        (rest.RESTClientObject, "request", rec_kube),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield rec
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


# --- replay ----------------------------------------------------------------------------


def swap(value: Any, swaps: dict[str, str]) -> Any:
    """``value`` with every recorded string (slug, UUIDs) replaced by the replay's."""
    if isinstance(value, str):
        for old, new in swaps.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, uuid.UUID):
        return uuid.UUID(swaps.get(str(value), str(value)))
    if isinstance(value, Jsonb):
        return Jsonb(json.loads(swap(json.dumps(value.obj), swaps)))
    if isinstance(value, list | tuple):
        return type(value)(swap(v, swaps) for v in value)
    if isinstance(value, dict):
        return {swap(k, swaps): swap(v, swaps) for k, v in value.items()}
    return value


def _swap_digest(swaps: dict[str, str], old: str, new: str) -> None:
    """A returned tenant id also stands in its schema's CHECK as the SHA-256 of its bytes
    (template v4, ``tenant_rows_only``): swap that digest along with the id."""
    try:
        before, after = uuid.UUID(old), uuid.UUID(new)
    except ValueError:
        return
    swaps[hashlib.sha256(before.bytes).hexdigest()] = hashlib.sha256(after.bytes).hexdigest()


class Replayer:
    """Replays recordings; thread-safe (``connections`` PostgreSQL connections shared)."""

    def __init__(
        self,
        *,
        dsn: str | None = None,
        connections: int = 1,
        bao_token: str | None = None,
        bao_cacert: str | None = None,
        kube_session: requests.Session | None = None,
    ) -> None:
        self._pool: queue.Queue[psycopg.Connection[Any]] = queue.Queue()
        for _ in range(connections if dsn else 0):
            self._pool.put(psycopg.connect(dsn or "", autocommit=True))
        self._bao_token = bao_token
        self._bao_cacert = bao_cacert  # OpenBao's CA: the floor verifies TLS as hvac does
        self._kube = kube_session
        self._local = threading.local()
        #: OpenBao answers that differed from the recorded ones (the floor did other work)
        self.mismatches = 0

    def close(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait().close()

    def _http(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def replay(
        self,
        calls: list[Call],
        recorded_slug: str,
        slug: str,
        *,
        swaps: dict[str, str] | None = None,
    ) -> None:
        """Issue ``calls`` for ``slug``: SQL, OpenBao and Kubernetes, in recorded order.

        ``swaps``: more recorded strings to replace (e.g. the recorded Tenant's uid, which
        the registry holds once: each replayed tenant needs its own).
        """
        swaps = {recorded_slug: slug, **(swaps or {})}
        held: dict[int, psycopg.Connection[Any]] = {}  # recorded connection -> ours, in a tx
        try:
            for call in calls:
                if isinstance(call, Sql):
                    self._sql(call, held, swaps)
                elif isinstance(call, Http):
                    self._bao(call, swaps)
                else:
                    self.kube(call.method, swap(call.url, swaps), swap(call.body, swaps))
        finally:
            for conn in held.values():
                conn.rollback()
                self._pool.put(conn)

    def _sql(
        self, call: Sql, held: dict[int, psycopg.Connection[Any]], swaps: dict[str, str]
    ) -> None:
        if call.query == "BEGIN":
            held[call.conn] = conn = self._pool.get(timeout=60)
            conn.execute("BEGIN")
            return
        conn = held.get(call.conn) or self._pool.get(timeout=60)
        try:
            query = swap(call.query, swaps)
            if call.many:
                conn.cursor().executemany(query, swap(call.params, swaps))
                return
            cur = conn.execute(query, swap(call.params, swaps))
            res = cur.pgresult
            for col, old in call.returned:
                value = res.get_value(0, col) if res is not None and res.ntuples else None
                if value is not None:
                    swaps[old] = value.decode()
                    _swap_digest(swaps, old, value.decode())
        finally:
            if call.query in ("COMMIT", "ROLLBACK"):
                held.pop(call.conn, None)
            if call.conn not in held:
                self._pool.put(conn)

    def _bao(self, call: Http, swaps: dict[str, str]) -> None:
        headers = {"X-Vault-Token": self._bao_token or ""}
        if call.namespace:
            headers["X-Vault-Namespace"] = swap(call.namespace, swaps)
        if call.body:
            headers["Content-Type"] = "application/json"
        answer = self._http().request(
            call.method,
            swap(call.url, swaps),
            data=swap(call.body, swaps) if call.body else None,
            headers=headers,
            timeout=30,
            # Per request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
            verify=self._bao_cacert or True,
        )
        if answer.status_code != call.status:
            self.mismatches += 1

    def kube(self, method: str, url: str, body: Any = None, *, merge: bool = False) -> None:
        """One raw call to the kube-apiserver (a merge patch when ``merge``)."""
        assert self._kube is not None, "Replayer built without a kube session"
        headers = {"Content-Type": "application/merge-patch+json"} if merge else {}
        answer = self._kube.request(
            method,
            url,
            data=json.dumps(body) if body is not None else None,
            headers=headers,
            timeout=30,
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"kube {method} {url}: {answer.status_code} {answer.text[:200]}")
