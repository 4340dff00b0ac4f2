"""A real OpenAI-compatible HTTP server on loopback that a test (or a benchmark) controls.

``Upstream().start()`` serves, on 127.0.0.1 and a free port, in threads:

- ``POST /v1/chat/completions`` (OpenAI's shape; ``stream: true`` as server-sent events,
  with the usage chunk when ``stream_options.include_usage`` asks for it);
- ``POST /v1/embeddings``;
- ``POST /v1/messages`` (Anthropic's messages API, streamed too).

Tokens are counted as whitespace-separated words: a prompt's are the words of its
messages' contents, the answer is ``reply`` (default: one word per output token asked for,
``w1 w2 …``, or as many as a ``user`` of ``want-<n>`` asks for; at most ``max_tokens``).
What the test controls (``Upstream`` attributes):
``statuses`` (answer these statuses to the next requests, one each), ``mode`` (``ok``,
``malformed``, ``no_usage``, ``hang``: never answer until ``release()``), ``cut_after``
(a stream drops its connection after this many content chunks), ``usage_every_chunk``
(each chunk reports the usage so far, as vLLM's ``continuous_usage_stats`` does),
``gate`` (requests wait on it before answering; a stream waits after ``gate_after``
chunks), ``retry_after`` (sent with 429/503). It records every request (``requests``:
path, headers, parsed body) and counts ``hits``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def words(text) -> list[str]:
    if isinstance(text, list):
        text = " ".join(part.get("text", "") for part in text if isinstance(part, dict))
    return (text or "").split()


def prompt_tokens(messages) -> int:
    return sum(len(words(m.get("content"))) for m in messages)


class Upstream:
    def __init__(self, *, record: bool = True):
        self.record = record  # a benchmark's upstream keeps no list of what it was sent
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.requests: list[dict] = []
        self.reset()

    def reset(self):
        self.statuses: list[int] = []
        self.mode = "ok"
        self.reply: str | None = None
        self.latency = 0.0
        self.cut_after: int | None = None
        self.usage_every_chunk = False
        self.retry_after: str | None = None
        self.gate: threading.Event | None = None
        self.gate_after: int | None = None
        self.released = threading.Event()
        self.hits = 0

    # --- control -------------------------------------------------------------------------

    def hold(self, *, after_chunks: int | None = None) -> threading.Event:
        """Make requests (or a stream after ``after_chunks`` chunks) wait until ``.set()``."""
        self.gate = threading.Event()
        self.gate_after = after_chunks
        return self.gate

    def release(self):
        self.released.set()
        if self.gate is not None:
            self.gate.set()

    def wait_for_hits(self, count: int, timeout: float = 30) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: self.hits >= count, timeout)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, port: int = 0):
        upstream = self

        class Handler(_Handler):
            server_state = upstream

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    # --- what a request gets ---------------------------------------------------------------

    def _next_status(self) -> int | None:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else None

    def answer_words(self, body) -> list[str]:
        if self.reply is not None:
            out = self.reply.split()
        elif str(body.get("user", "")).startswith("want-"):  # a test's way to vary one call's answer
            out = [f"w{i}" for i in range(1, int(body["user"][5:]) + 1)]
        else:
            out = [f"w{i}" for i in range(1, (body.get("max_tokens") or 16) + 1)]
        return out[: body.get("max_tokens") or len(out)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK hold every answer back ~40 ms.
    disable_nagle_algorithm = True
    server_state: Upstream

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        state = self.server_state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        body = json.loads(raw or b"{}")
        with state.arrived:
            state.hits += 1
            if state.record:
                state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            state.arrived.notify_all()
        if state.latency:
            time.sleep(state.latency)
        if state.gate is not None and state.gate_after is None:
            state.gate.wait(60)
        status = state._next_status()
        if status is not None:
            extra = {"Retry-After": state.retry_after} if state.retry_after and status in (429, 503) else {}
            return self._json(status, {"error": {"message": f"upstream says {status}", "type": "test"}}, extra)
        if state.mode == "hang":
            state.released.wait(60)
            return self._close()
        if state.mode == "malformed":
            return self._raw(200, b'{"id": "x", "choices": [', "application/json")
        if self.path == "/v1/embeddings":
            return self._embeddings(body)
        if self.path == "/v1/messages":
            return self._anthropic(body)
        if self.path == "/v1/chat/completions":
            return self._chat(body)
        return self._json(404, {"error": {"message": "no such path"}})

    # --- responses ---------------------------------------------------------------------------

    def _raw(self, status, payload: bytes, content_type, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status, obj, extra=None):
        self._raw(status, json.dumps(obj).encode(), "application/json", extra)

    def _close(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def _usage(self, prompt, completion):
        if self.server_state.mode == "no_usage":
            return {}
        return {"usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}

    def _chat(self, body):
        state = self.server_state
        prompt = prompt_tokens(body["messages"])
        out = state.answer_words(body)
        if not body.get("stream"):
            return self._json(200, {
                "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": " ".join(out)}, "finish_reason": "stop"}],
                **self._usage(prompt, len(out)),
            })
        include_usage = (body.get("stream_options") or {}).get("include_usage")

        def chunk(delta, finish=None, delivered=0, **extra):
            obj = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            if state.usage_every_chunk:
                obj.update(self._usage(prompt, delivered))
            return obj

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": w if i == 0 else " " + w}, delivered=i + 1) for i, w in enumerate(out)]
        events.append(chunk({}, "stop", delivered=len(out)))
        if include_usage and state.mode != "no_usage":
            events.append({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                           "choices": [], **self._usage(prompt, len(out))})
        self._stream([("", e) for e in events], content_chunks=range(1, len(out) + 1))

    def _stream(self, events, content_chunks):
        state = self.server_state
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for index, (name, event) in enumerate(events):
                if state.cut_after is not None and index > state.cut_after:
                    return self._close()  # mid-stream, without the terminating chunk
                if state.gate is not None and state.gate_after is not None and index == state.gate_after + 1:
                    state.gate.wait(60)
                data = (f"event: {name}\n" if name else "") + f"data: {json.dumps(event)}\n\n"
                self._chunk(data.encode())
            if not any(n for n, _ in events):  # OpenAI's terminator; Anthropic's ends with message_stop
                self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _chunk(self, payload: bytes):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _embeddings(self, body):
        inputs = body["input"] if isinstance(body["input"], list) and not isinstance(body["input"][0], int) else [body["input"]]
        tokens = sum(len(i) if isinstance(i, list) else len(words(i)) for i in inputs)
        data = [{"object": "embedding", "index": n, "embedding": [0.1 * (n + 1), 0.2, 0.3]} for n in range(len(inputs))]
        usage = {} if self.server_state.mode == "no_usage" else {"usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        self._json(200, {"object": "list", "data": data, "model": body["model"], **usage})

    def _anthropic(self, body):
        state = self.server_state
        prompt = sum(len(words(m["content"])) for m in body["messages"]) + len(words(body.get("system", "")))
        out = state.answer_words(body)
        if not body.get("stream"):
            return self._json(200, {
                "id": "msg_test", "type": "message", "role": "assistant", "model": body["model"],
                "content": [{"type": "text", "text": " ".join(out)}], "stop_reason": "end_turn",
                "usage": {"input_tokens": prompt, "output_tokens": len(out)},
            })
        events = [("message_start", {"type": "message_start", "message": {
            "id": "msg_test", "type": "message", "role": "assistant", "model": body["model"], "content": [],
            "usage": {"input_tokens": prompt, "output_tokens": 1}}})]
        events.append(("content_block_start", {
            "type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""},
        }))
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": w if i == 0 else " " + w}})
                   for i, w in enumerate(out)]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                         "usage": {"output_tokens": len(out)}}))
        events.append(("message_stop", {"type": "message_stop"}))
        self._stream(events, content_chunks=range(2, 2 + len(out)))


if __name__ == "__main__":  # python -m tests.gateway.upstream --port N (the benchmark's upstream)
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = Upstream(record=False).start(args.port)
    print(f"upstream on {server.base_url}", flush=True)
    threading.Event().wait()
