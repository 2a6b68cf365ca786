"""Assembling the embedded model from part packages: order, checksums, stamps, damage, concurrency."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from summarizer.backends import _gguf
from summarizer.backends._gguf import CATALOGUE, EmbeddedModel, TextProgress, assemble_model, ensure_model
from summarizer.config import Settings
from summarizer.errors import ModelFileError


def make_parts(root: Path, prefix: str, chunks: list[bytes]) -> None:
    """Installable-looking part packages <prefix><n>/data/partNN.bin on a sys.path entry."""
    for n, chunk in enumerate(chunks, start=1):
        pkg = root / f"{prefix}{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(chunk)


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[EmbeddedModel, bytes]:
    prefix = f"fakemodel_{abs(hash(tmp_path)) % 10**9}_part"  # unique per test: no stale imports
    chunks = [os.urandom(300_000), os.urandom(250_000), b"tail" * 1000]
    make_parts(tmp_path / "site", prefix, chunks)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    entry = EmbeddedModel(
        name="tiny",
        model_id="tiny-test-model",
        package_prefix=prefix,
        parts=len(chunks),
        part_file="data/part{n:02d}.bin",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        extra="tiny",
    )
    return entry, whole


def test_parts_are_concatenated_in_order_and_verified(fake_model: tuple[EmbeddedModel, bytes], tmp_path: Path) -> None:
    entry, whole = fake_model
    path = assemble_model(entry, tmp_path / "models")
    assert path == tmp_path / "models" / "tiny.gguf"
    assert path.read_bytes() == whole
    assert not list((tmp_path / "models").glob("*.partial"))
    assert (tmp_path / "models" / "tiny.gguf.verified.json").is_file()


def test_stamp_avoids_rehashing(
    fake_model: tuple[EmbeddedModel, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, _ = fake_model
    path = assemble_model(entry, tmp_path / "models")
    hashed: list[Path] = []
    real_hash = _gguf._hash_file
    monkeypatch.setattr(_gguf, "_hash_file", lambda p, e, progress: hashed.append(p) or real_hash(p, e, progress=None))
    monkeypatch.setattr(_gguf, "_assemble", lambda *a, **k: pytest.fail("assembled again"))
    assert assemble_model(entry, tmp_path / "models") == path
    assert hashed == []

    st = path.stat()  # a changed mtime means "check again", and a good file passes
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert assemble_model(entry, tmp_path / "models") == path
    assert hashed == [path]
    assert assemble_model(entry, tmp_path / "models") == path
    assert hashed == [path]


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "delete_stamp_and_flip"])
def test_damaged_cache_is_detected_and_reassembled(
    fake_model: tuple[EmbeddedModel, bytes], tmp_path: Path, damage: str
) -> None:
    entry, whole = fake_model
    path = assemble_model(entry, tmp_path / "models")
    st = path.stat()
    if damage == "truncate":
        with path.open("r+b") as fh:
            fh.truncate(1000)
    else:
        data = bytearray(path.read_bytes())
        data[12345] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        if damage == "delete_stamp_and_flip":
            (tmp_path / "models" / "tiny.gguf.verified.json").unlink()
    assert assemble_model(entry, tmp_path / "models").read_bytes() == whole


@pytest.mark.parametrize("field", ["size", "sha256"])
def test_mismatch_is_refused_with_the_fix(fake_model: tuple[EmbeddedModel, bytes], tmp_path: Path, field: str) -> None:
    entry, _ = fake_model
    wrong = dataclasses.replace(entry, **{field: entry.size + 1 if field == "size" else "0" * 64})
    with pytest.raises(ModelFileError) as info:
        assemble_model(wrong, tmp_path / "models")
    message = str(info.value)
    assert "does not match its checksum" in message
    assert "pip install --force-reinstall 'summarizer[tiny]'" in message
    assert not (tmp_path / "models" / "tiny.gguf").exists()
    assert not list((tmp_path / "models").glob("*.partial"))


def test_missing_part_package_names_the_extra(fake_model: tuple[EmbeddedModel, bytes], tmp_path: Path) -> None:
    entry, _ = fake_model
    more = dataclasses.replace(entry, parts=entry.parts + 1)
    with pytest.raises(ModelFileError) as info:
        assemble_model(more, tmp_path / "models")
    assert f"{entry.package_prefix}{entry.parts + 1}" in str(info.value)
    assert "pip install 'summarizer[tiny]'" in str(info.value)
    assert not (tmp_path / "models" / "tiny.gguf").exists()


def test_progress_is_reported_to_the_callback_and_as_plain_lines(
    fake_model: tuple[EmbeddedModel, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry, whole = fake_model
    heard: list[tuple[str, int, int]] = []
    assemble_model(entry, tmp_path / "models", progress=lambda *step: heard.append(step))
    assert heard[0] == ("assembling tiny model", 0, len(whole))
    assert heard[-1] == ("assembling tiny model", len(whole), len(whole))
    assert [done for _, done, _ in heard] == sorted(done for _, done, _ in heard)
    assert capsys.readouterr().err == ""  # a callback replaces the plain lines
    (tmp_path / "models" / "tiny.gguf").unlink()
    assemble_model(entry, tmp_path / "models", progress=TextProgress())
    captured = capsys.readouterr()
    assert "assembling tiny model" in captured.err
    assert captured.out == ""


CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from summarizer.backends import _gguf
    from summarizer.backends._gguf import EmbeddedModel, TextProgress, assemble_model

    spec = json.loads(sys.argv[1])
    directory, go, log = Path(spec.pop("directory")), Path(spec.pop("go")), Path(spec.pop("log"))
    entry = EmbeddedModel(**spec)
    real = _gguf._assemble
    def counting(*args, **kwargs):
        with log.open("a") as fh:
            fh.write("assembled\\n")
        time.sleep(1.0)  # hold the lock long enough for the other process to arrive
        real(*args, **kwargs)
    _gguf._assemble = counting
    while not go.exists():
        time.sleep(0.01)
    print(assemble_model(entry, directory, progress=TextProgress()))
    """
)


def test_two_processes_assemble_once_and_both_get_the_file(tmp_path: Path) -> None:
    prefix = f"fakeconc_{abs(hash(tmp_path)) % 10**9}_part"
    chunks = [os.urandom(6_000_000) for _ in range(4)]
    make_parts(tmp_path / "site", prefix, chunks)
    whole = b"".join(chunks)
    entry = EmbeddedModel("tiny", "tiny-test-model", prefix, len(chunks), "data/part{n:02d}.bin", len(whole),
                          hashlib.sha256(whole).hexdigest(), "tiny")  # fmt: skip
    spec = {
        **dataclasses.asdict(entry),
        "directory": str(tmp_path / "models"),
        "go": str(tmp_path / "go"),
        "log": str(tmp_path / "assemblies.log"),
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), *sys.path])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_SCRIPT, json.dumps(spec)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)
    (tmp_path / "go").touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    target = tmp_path / "models" / "tiny.gguf"
    assert [out.strip() for out, _ in outputs] == [str(target), str(target)]
    assert target.read_bytes() == whole
    assert (tmp_path / "assemblies.log").read_text() == "assembled\n"
    waited = ["another summarizer process is assembling the model" in err for _, err in outputs]
    assert sorted(waited) == [False, True]
    assert not list((tmp_path / "models").glob("*.partial"))


def test_model_path_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="model file not found: .*SUMMARIZER_MODEL_PATH"):
        ensure_model(Settings(model_path=tmp_path / "nope.gguf"))


def test_model_path_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "weights.gguf"
    bogus.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        ensure_model(Settings(model_path=bogus))


def test_model_path_with_gguf_magic_is_used_as_is(tmp_path: Path) -> None:
    model = tmp_path / "other.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 64)
    assert ensure_model(Settings(model_path=model)) == model
    assert not (tmp_path / "cache" / "models").exists()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_installed_parts_add_up_to_the_catalogue_size(name: str) -> None:
    entry = CATALOGUE[name]
    try:
        parts = _gguf._locate_parts(entry)
    except ModelFileError:
        pytest.skip(f"the {name} model's parts are not installed")
    assert len(parts) == entry.parts
    assert sum(Path(str(p)).stat().st_size for p in parts) == entry.size
