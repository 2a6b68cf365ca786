"""A fake OpenAI-compatible HTTP server on 127.0.0.1, for tests, demos and benchmarks.

It answers ``POST /v1/chat/completions`` with scripted JSON for the call it recognises from the request's
schema name, and can inject faults: HTTP 500, 429 with Retry-After, a hang past the client's timeout,
a dropped connection, truncated JSON and invalid JSON. Faults follow an explicit per-request list or a
seeded random share, so runs are reproducible.

Run it by hand: ``python -m summarizer.testing.fake_openai --port 8081 --script answers.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..backends.fake import EMPTY_ANSWERS
from ..schemas import CALLS

FAULTS = ("500", "429", "timeout", "disconnect", "truncated", "invalid")
_CALL_BY_MODEL = {model.__name__: name for name, model in CALLS.items()}
Responder = Callable[[str, dict[str, Any]], Any]


def call_name(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name") or (fmt.get("schema") or {}).get("title") or ""
    return _CALL_BY_MODEL.get(name, name)


class FakeOpenAIServer:
    """Context manager: ``with FakeOpenAIServer(script=...) as server: server.base_url``."""

    def __init__(
        self,
        script: Mapping[str, Any] | Responder | None = None,
        *,
        faults: Sequence[str | None] | None = None,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] = FAULTS,
        seed: int = 0,
        latency_ms: float = 0.0,
        retry_after_s: float = 0.0,
        hang_s: float = 2.0,
        port: int = 0,
    ) -> None:
        self.script = script
        self.faults = list(faults or [])
        self.fault_rate = fault_rate
        self.fault_kinds = list(fault_kinds)
        self.latency_s = latency_ms / 1000.0
        self.retry_after_s = retry_after_s
        self.hang_s = hang_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.faults_sent: dict[str, int] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_fault(self) -> str | None:
        with self._lock:
            index = self.requests
            self.requests += 1
            if index < len(self.faults):
                fault = self.faults[index]
            elif self.fault_rate and self._rng.random() < self.fault_rate:
                fault = self._rng.choice(self.fault_kinds)
            else:
                fault = None
            if fault:
                self.faults_sent[fault] = self.faults_sent.get(fault, 0) + 1
            return fault

    def answer(self, call: str, body: dict[str, Any]) -> str:
        script = self.script
        if callable(script):
            out = script(call, body)
        elif isinstance(script, Mapping) and call in script:
            out = script[call]
        else:
            out = EMPTY_ANSWERS.get(call, {})
        return out if isinstance(out, str) else json.dumps(out)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(
                self,
                status: int,
                payload: dict[str, Any] | str,
                headers: dict[str, str] | None = None,
            ) -> None:
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                fault = server._next_fault()
                if server.latency_s:
                    time.sleep(server.latency_s)
                if fault == "500":
                    self._send(500, {"error": {"message": "injected server error", "type": "server_error"}})
                    return
                if fault == "429":
                    self._send(
                        429,
                        {"error": {"message": "injected rate limit", "type": "rate_limit"}},
                        {"Retry-After": f"{server.retry_after_s:g}"},
                    )
                    return
                if fault == "timeout":
                    time.sleep(server.hang_s)
                    self.close_connection = True
                    return
                if fault == "disconnect":
                    self.close_connection = True
                    return
                call = call_name(body)
                content = server.answer(call, body)
                if fault == "truncated":
                    content = content[: max(1, len(content) // 2)]
                elif fault == "invalid":
                    content = "Sure! Here is the JSON you asked for: {oops"
                prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
                completion = max(1, len(content) // 4)
                with server._lock:
                    server.prompt_tokens += prompt
                    server.completion_tokens += completion
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{server.requests}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "fake"),
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        },
                    },
                )

        return Handler


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--script", type=Path, help="JSON object: call name -> answer")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    script = json.loads(args.script.read_text(encoding="utf-8")) if args.script else None
    server = FakeOpenAIServer(script, port=args.port, latency_ms=args.latency_ms, fault_rate=args.fault_rate)
    print(f"fake OpenAI-compatible server on {server.base_url}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
