"""Redis servers of the tests' own, on free loopback ports: a single node a test may stall,
restart, stop or drop the clients of, and a Redis Cluster of three masters (each node
``redis-server --cluster-enabled yes``, joined with ``redis-cli --cluster create``).

``cache_settings(...)`` is the ``CACHES`` setting that points the default cache at one.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from bench.harness import free_port

TIMEOUTS = {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}


def cache_settings(port: int, *, cluster: bool = False) -> dict:
    """``CACHES`` with the default cache on 127.0.0.1:``port`` (a cluster's node, or a single one)."""
    options = dict(TIMEOUTS)
    if cluster:
        options["CLIENT_CLASS"] = "radiant.redis_cluster.ClusterClient"
    return {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
        "OPTIONS": options,
    }}


def _command(port: int, inline: bytes) -> bytes | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(inline)
            return sock.recv(4096)
    except OSError:
        return None


def _wait_for(ready, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.05)  # polling a server that is starting, not ordering threads


class PrivateRedis:
    """A redis-server of one test's own, on a free port."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        assert self.binary, "redis-server is not installed"
        self.port = free_port()
        self.processes = []

    def start(self):
        self.processes.append(subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        _wait_for(lambda: self.command(b"PING\r\n") == b"+PONG\r\n", "private redis-server")

    def command(self, inline: bytes) -> bytes | None:
        return _command(self.port, inline)

    @property
    def caches(self) -> dict:
        return cache_settings(self.port)

    def restart(self):
        """An empty server on the same port: every connection to the old one is dead."""
        self.processes[-1].kill()
        self.processes[-1].wait(timeout=10)
        self.start()

    def drop_clients(self):
        """The server closes every client connection (as after a timeout or a failover)."""
        assert self.command(b"CLIENT KILL TYPE normal\r\n").startswith(b":")

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def pause(self):
        """SIGSTOP: the server stops answering, with every connection open (a stall)."""
        os.kill(self.processes[-1].pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.processes[-1].pid, signal.SIGCONT)


class PrivateCluster:
    """A Redis Cluster of ``masters`` nodes (no replicas) on free loopback ports."""

    def __init__(self, masters: int = 3):
        self.binary = shutil.which("redis-server")
        self.cli = shutil.which("redis-cli")
        assert self.binary and self.cli, "redis-server and redis-cli are needed"
        self.ports = [free_port() for _ in range(masters)]
        self.bus_ports = [free_port() for _ in range(masters)]  # by default port + 10000: maybe past 65535
        self.directory = tempfile.TemporaryDirectory(prefix="radiant-cluster-")
        self.processes = []

    def start(self):
        try:
            self._start()
        except BaseException:
            self.close()  # no node is left running behind a failed start
            raise

    def _start(self):
        for port, bus_port in zip(self.ports, self.bus_ports):
            self.processes.append(subprocess.Popen(
                [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                 "--cluster-port", str(bus_port),
                 "--cluster-node-timeout", "2000", "--dir", self.directory.name],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        for port in self.ports:
            _wait_for(lambda port=port: _command(port, b"PING\r\n") == b"+PONG\r\n", f"cluster node {port}")
        subprocess.run(
            [self.cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        _wait_for(self._ready, "the cluster")

    def _ready(self) -> bool:
        for port in self.ports:
            info = _command(port, b"CLUSTER INFO\r\n") or b""
            if b"cluster_state:ok" not in info or b"cluster_known_nodes:%d" % len(self.ports) not in info:
                return False
        return True

    @property
    def caches(self) -> dict:
        return cache_settings(self.ports[0], cluster=True)

    def flush(self):
        for port in self.ports:
            _command(port, b"FLUSHALL\r\n")

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self.processes = []

    def close(self):
        self.stop()
        self.directory.cleanup()


class LossyLink:
    """A TCP relay in front of a server that can lose everything sent either way (a network
    partition: unlike a stalled server, nothing sent meanwhile is ever delivered)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.losing = threading.Event()
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                if not self.losing.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def lose(self):
        self.losing.set()

    def heal(self):
        self.losing.clear()

    def close(self):
        self.closed.set()
        self.listener.close()
