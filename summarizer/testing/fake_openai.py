"""A fake OpenAI-compatible HTTP server on 127.0.0.1, for tests, demos and benchmarks.

It answers ``POST /v1/chat/completions`` with scripted JSON for the call it recognises from the request's
schema name, and can inject faults: HTTP 500, 429 with Retry-After, a hang past the client's timeout,
a dropped connection, truncated JSON and invalid JSON. Faults follow an explicit per-request list or a
seeded random share, so runs are reproducible.

It also offers the batch API (``/v1/files``, ``/v1/batches``): an uploaded JSON Lines file of chat requests is
answered as a whole after ``batch_polls`` status reads, each request with the same answers and per-request
faults as a live request (a transport fault becomes an entry of the batch's error file; truncated or invalid
JSON an answer in its output file). ``batch_faults`` gives each created batch, in order, an outcome: ``None``
completes, ``"expire"`` answers half its requests and expires, ``"fail"`` fails without answers.

Run it by hand: ``python -m summarizer.testing.fake_openai --port 8081 --script answers.json``.
"""

from __future__ import annotations

import argparse
import email.policy
import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.parser import BytesParser
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
        batch_faults: Sequence[str | None] = (),
        batch_polls: int = 1,
    ) -> None:
        self.script = script
        self.batch_faults = list(batch_faults)
        self.batch_polls = batch_polls
        self.files: dict[str, bytes] = {}
        self.file_objects: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._batch_polls_left: dict[str, int] = {}
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

    def complete(self, body: dict[str, Any], fault: str | None) -> tuple[int, dict[str, Any]]:
        """The status and JSON body of the answer to one chat request, with ``fault`` applied (not the ones that
        hang or drop the connection: the live handler does those)."""
        if fault == "500":
            return 500, {"error": {"message": "injected server error", "type": "server_error"}}
        if fault == "429":
            return 429, {"error": {"message": "injected rate limit", "type": "rate_limit"}}
        call = call_name(body)
        content = self.answer(call, body)
        if fault == "truncated":
            content = content[: max(1, len(content) // 2)]
        elif fault == "invalid":
            content = "Sure! Here is the JSON you asked for: {oops"
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        completion = max(1, len(content) // 4)
        with self._lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion
        return 200, {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    # --- the batch API ------------------------------------------------------------------------------------------

    def add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
            obj = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                   "filename": filename, "purpose": purpose, "status": "processed"}  # fmt: skip
            self.file_objects[file_id] = obj
        return obj

    def create_batch(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = request.get("input_file_id")
        if file_id not in self.files:
            return 404, {"error": {"message": f"no file {file_id!r}", "type": "invalid_request_error"}}
        with self._lock:
            index = len(self.batches)
            batch_id = f"batch_{index + 1}"
            lines = self.files[file_id].decode("utf-8").splitlines()
            batch = {
                "id": batch_id, "object": "batch", "endpoint": request.get("endpoint", "/v1/chat/completions"),
                "input_file_id": file_id, "completion_window": request.get("completion_window", "24h"),
                "status": "validating", "created_at": int(time.time()), "metadata": request.get("metadata"),
                "output_file_id": None, "error_file_id": None, "errors": None,
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }  # fmt: skip
            self.batches[batch_id] = batch
            self._batch_polls_left[batch_id] = self.batch_polls
        return 200, batch

    def retrieve_batch(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, {"error": {"message": f"no batch {batch_id!r}", "type": "invalid_request_error"}}
        with self._lock:
            left = self._batch_polls_left.get(batch_id, 0)
            self._batch_polls_left[batch_id] = left - 1
        if batch["status"] in ("validating", "in_progress"):
            if left > 0:
                batch["status"] = "in_progress"
            else:
                self._finish_batch(batch)
        return 200, batch

    def _finish_batch(self, batch: dict[str, Any]) -> None:
        index = int(batch["id"].split("_")[1]) - 1
        outcome = self.batch_faults[index] if index < len(self.batch_faults) else None
        if outcome == "fail":
            batch["status"] = "failed"
            batch["errors"] = {"object": "list", "data": [{"code": "injected", "message": "injected batch failure"}]}
            return
        requests = [json.loads(line) for line in self.files[batch["input_file_id"]].decode("utf-8").splitlines()]
        out: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for n, request in enumerate(requests):
            custom_id = request["custom_id"]
            if outcome == "expire" and n >= len(requests) // 2:
                error = {"code": "batch_expired", "message": "This request could not be executed before the "
                         "completion window expired."}  # fmt: skip
                errors.append({"id": f"batch_req_{n}", "custom_id": custom_id, "response": None, "error": error})
                continue
            fault = self._next_fault()
            if fault in ("timeout", "disconnect"):
                fault = "500"
            status, body = self.complete(request["body"], fault)
            response = {"status_code": status, "request_id": f"req_{n}", "body": body}
            entry = {"id": f"batch_req_{n}", "custom_id": custom_id, "response": response, "error": None}
            (out if status == 200 else errors).append(entry)
        batch["status"] = "expired" if outcome == "expire" else "completed"
        batch["request_counts"] = {"total": len(requests), "completed": len(out), "failed": len(errors)}
        if out:
            data = "".join(json.dumps(e) + "\n" for e in out).encode()
            batch["output_file_id"] = self.add_file(data, "output.jsonl", "batch_output")["id"]
        if errors:
            data = "".join(json.dumps(e) + "\n" for e in errors).encode()
            batch["error_file_id"] = self.add_file(data, "errors.jsonl", "batch_output")["id"]

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
                path = self.path.split("?")[0].rstrip("/")
                parts = path.split("/")
                if path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
                elif path == "/v1/batches":
                    batches = sorted(server.batches.values(), key=lambda b: -int(b["id"].split("_")[1]))
                    self._send(200, {"object": "list", "data": batches, "has_more": False})
                elif len(parts) == 4 and parts[2] == "batches":
                    self._send(*server.retrieve_batch(parts[3]))
                elif len(parts) == 5 and parts[2] == "files" and parts[4] == "content" and parts[3] in server.files:
                    data = server.files[parts[3]]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def _upload(self, raw: bytes) -> None:
                """``POST /v1/files``: a multipart form with ``purpose`` and ``file``."""
                head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
                message = BytesParser(policy=email.policy.default).parsebytes(head + raw)
                assert isinstance(message, EmailMessage)
                fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
                upload = fields.get("file")
                if upload is None:
                    self._send(400, {"error": {"message": "no file in the form"}})
                    return
                purpose = fields["purpose"].get_content().strip() if "purpose" in fields else "batch"
                data = upload.get_payload(decode=True)
                assert isinstance(data, bytes)
                self._send(200, server.add_file(data, upload.get_filename() or "upload.jsonl", str(purpose)))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = self.path.rstrip("/")
                if path == "/v1/files":
                    self._upload(raw)
                    return
                body = json.loads(raw or b"{}")
                if path == "/v1/batches":
                    self._send(*server.create_batch(body))
                    return
                if path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                fault = server._next_fault()
                if server.latency_s:
                    time.sleep(server.latency_s)
                if fault == "timeout":
                    time.sleep(server.hang_s)
                    self.close_connection = True
                    return
                if fault == "disconnect":
                    self.close_connection = True
                    return
                status, payload = server.complete(body, fault)
                headers = {"Retry-After": f"{server.retry_after_s:g}"} if status == 429 else None
                self._send(status, payload, headers)

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
