"""The llama.cpp server process behind the local backend: start, wait until ready, share, stop.

One server runs per (model file, options) and is shared by every LocalBackend of the process. The server is
llama-cpp-python's OpenAI-compatible server on 127.0.0.1 and a free port, in its own process group. It dies
with its parent: PR_SET_PDEATHSIG where the platform has it, plus an atexit hook and reference counting
(the last backend to close stops it). Its output goes to a log file in the cache directory; the per-request
timings it prints there (prompt tokens reused from the cache, evaluation speeds) are parsed by ``timings``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.metadata
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import BackendUnavailableError, ConfigError


def pinned_llama_cpp() -> str | None:
    """The llama-cpp-python version this summarizer pins (its ``local`` extra), or None when it is not installed
    as a package (a source tree on ``sys.path``)."""
    try:
        requires = importlib.metadata.requires("summarizer") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requires:
        if match := re.match(r"llama-cpp-python(?:\[[^\]]*\])?==([^;\s]+)", requirement):
            return match.group(1)
    return None


def check_llama_cpp() -> None:
    """The server patches llama-cpp-python's internals (``_patched_llama_server``): refuse any other version than
    the one pinned, with what to do, instead of failing somewhere inside it."""
    pinned = pinned_llama_cpp()
    try:
        installed = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError("the local backend needs llama-cpp-python: pip install 'summarizer[local]'") from None
    if pinned is not None and installed != pinned:
        raise ConfigError(
            f"the local backend supports llama-cpp-python {pinned} only (its sampler is patched), but {installed} "
            f"is installed: pip install 'llama-cpp-python[server]=={pinned}' (or 'make demo' in a checkout)"
        )


STOP_GRACE_S = 5.0
SERVER_MODULE = "summarizer.backends._patched_llama_server"  # llama-cpp-python's server with greedy grammar sampling
_KEEP_LOGS = 8
_PR_SET_PDEATHSIG = 1

# PR_SET_PDEATHSIG fires when the thread that forked the child exits, so every server is spawned from one
# long-lived thread instead of whichever (possibly short-lived) thread asked for it.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-server-spawner")


@dataclass(frozen=True)
class ServerOptions:
    model_path: Path
    n_ctx: int
    n_threads: int
    log_dir: Path
    start_timeout: float
    extra_args: tuple[str, ...] = ()


@dataclass
class Timings:
    """What the server reported for the requests logged since an offset."""

    requests: int = 0
    cached_prompt_tokens: int = 0
    prompt_eval_tokens: int = 0
    prompt_eval_ms: float = 0.0
    eval_tokens: int = 0
    eval_ms: float = 0.0
    queue_wait_ms: float = 0.0  # waiting for this machine's turn to compute (see _compute_lock)


_PREFIX_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit")
_PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_EVAL = re.compile(r"^\S*\s*eval time =\s*([\d.]+) ms /\s*(\d+) runs", re.MULTILINE)


def parse_timings(text: str) -> Timings:
    out = Timings()
    out.cached_prompt_tokens = sum(int(m.group(1)) for m in _PREFIX_HIT.finditer(text))
    for m in _PROMPT_EVAL.finditer(text):
        out.requests += 1
        out.prompt_eval_ms += float(m.group(1))
        out.prompt_eval_tokens += int(m.group(2))
    for m in _EVAL.finditer(text):
        out.eval_ms += float(m.group(1))
        out.eval_tokens += int(m.group(2))
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


class LlamaServer:
    """One local model server subprocess (llama-cpp-python's server, see :mod:`._patched_llama_server`)."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.returncode: int | None = None
        self.users = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        o = self.options
        return [
            sys.executable, "-m", SERVER_MODULE,
            "--model", str(o.model_path),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(o.n_ctx),
            "--n_threads", str(o.n_threads), "--n_threads_batch", str(o.n_threads),
            "--use_mlock", "False", "--logits_all", "False", "--verbose", "True",
            *o.extra_args,
        ]  # fmt: skip

    def start(self) -> None:
        """Start the process and block until it answers ``GET /v1/models`` (bounded by the start timeout)."""
        self.options.log_dir.mkdir(parents=True, exist_ok=True)
        _prune_logs(self.options.log_dir)
        for attempt in range(3):  # a free port can be taken between probing and binding it
            self.port = _free_port()
            self.log_path = self.options.log_dir / f"llama-server-{os.getpid()}-{self.port}.log"
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.returncode = None
            with self.log_path.open("wb") as log:
                self.proc = _SPAWNER.submit(
                    subprocess.Popen,
                    self.command(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_die_with_parent,
                ).result()
            _LIVE.add(self)
            try:
                self._wait_ready()
                return
            except BackendUnavailableError:
                self.stop()
                if attempt == 2 or "address already in use" not in self.log_tail().lower():
                    raise

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.options.start_timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self.proc.poll()
                if code is not None:
                    raise BackendUnavailableError(
                        f"the local llama.cpp server exited during start-up (exit code {code}); "
                        f"last lines of {self.log_path}:\n{self.log_tail()}",
                        backend="local",
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.base_url}/models").status_code == 200:
                        return
                time.sleep(0.2)
        raise BackendUnavailableError(
            f"the local llama.cpp server did not answer within {self.options.start_timeout:.0f} s "
            f"(raise SUMMARIZER_LOCAL_START_TIMEOUT); last lines of {self.log_path}:\n{self.log_tail()}",
            backend="local",
        )

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after a grace period; reap the process."""
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is not None:
            self.returncode = proc.returncode
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_GRACE_S)
        self.returncode = proc.returncode

    def exit_code(self) -> int | None:
        return self.returncode if self.proc is None else self.proc.poll()

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size if self.log_path else 0
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        size = self.log_size()
        text = self.log_since(max(0, size - 8000))
        return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


_LIVE: set[LlamaServer] = set()
_SERVERS: dict[ServerOptions, LlamaServer] = {}
_REGISTRY_LOCK = threading.Lock()


def acquire(options: ServerOptions) -> LlamaServer:
    """The running server for these options, started (blocking) if there is none or it died."""
    with _REGISTRY_LOCK:
        server = _SERVERS.get(options)
        if server is None:
            server = _SERVERS[options] = LlamaServer(options)
        if not server.alive():
            server.stop()
            server.start()
        server.users += 1
        return server


def restart(server: LlamaServer) -> None:
    """Start a server again after its process died."""
    with _REGISTRY_LOCK:
        if not server.alive():
            server.stop()
            server.start()


def release(server: LlamaServer) -> None:
    """Drop one user; the last one stops the server."""
    with _REGISTRY_LOCK:
        server.users = max(0, server.users - 1)
        if server.users == 0:
            server.stop()
            if _SERVERS.get(server.options) is server:
                del _SERVERS[server.options]


def _prune_logs(log_dir: Path) -> None:
    logs = sorted(log_dir.glob("llama-server-*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in logs[_KEEP_LOGS:]:
        with contextlib.suppress(OSError):
            old.unlink()


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()
