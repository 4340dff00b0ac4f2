"""A redis-server of one test's own, which the test may stall, restart or drop clients of."""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from bench.harness import free_port


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
        deadline = time.monotonic() + 10
        while self.command(b"PING\r\n") != b"+PONG\r\n":
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.05)

    def command(self, inline: bytes) -> bytes | None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(inline)
                return sock.recv(64)
        except OSError:
            return None

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
            process.kill()
            process.wait(timeout=10)

    def pause(self):
        """SIGSTOP: the server stops answering, with every connection open (a stall)."""
        os.kill(self.processes[-1].pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.processes[-1].pid, signal.SIGCONT)


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
