"""What the installed llama.cpp was built for, what this CPU can run, and whether llama.cpp's
extra buffer types (AMX tiles, repacked weights) are used: pure decisions from injected flags.

llama-cpp-python 0.3.36 built with its defaults targets the build machine (`-march=native`) and,
on an Intel CPU with AMX, compiles the AMX extra buffer type, whose first decode dies with
SIGSEGV. `scripts/install.sh` therefore builds a portable library (one CPU backend per x86-64
level, the best loaded at run time), and the decisions here keep a library built otherwise from
crashing or dying with SIGILL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import ExtraBuffers

logger = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")

# ggml's name for an instruction set it was compiled with (llama_print_system_info) and the
# Linux /proc/cpuinfo flag of a CPU that can run it.
CPU_FLAG_OF = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX_VNNI": "avx_vnni",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}


@dataclass(frozen=True)
class BuildInfo:
    """The CPU backend of the loaded llama.cpp library and the features it was compiled with."""

    backend: str  # "CPU"
    features: frozenset[str]  # e.g. {"AVX2", "FMA", "F16C", "BMI2", "REPACK", "OPENMP"}

    @property
    def instruction_sets(self) -> list[str]:
        """The compiled-in instruction sets, in ggml's order."""
        return [name for name in CPU_FLAG_OF if name in self.features]


@dataclass(frozen=True)
class ExtraBufferPlan:
    """Whether llama.cpp may put weights in its extra buffer types, and why."""

    use: bool
    reason: str


@dataclass(frozen=True)
class LlamaRuntime:
    """The llama.cpp in use: its version, CPU backend and features, and the extra-buffer choice."""

    version: str
    build: BuildInfo
    extra_buffers: ExtraBufferPlan

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "backend": self.build.backend,
            "features": sorted(self.build.features),
            "extra_buffers": self.extra_buffers.use,
            "extra_buffers_reason": self.extra_buffers.reason,
        }


def library_dir() -> Path:
    """Where the installed llama-cpp-python keeps its native libraries."""
    import llama_cpp

    return Path(llama_cpp.__file__).parent / "lib"


def library_files() -> list[Path]:
    """The native libraries of the installed llama-cpp-python (a rebuild changes them)."""
    return sorted(library_dir().glob("*.so*"))


def register_backends() -> None:
    """Load the CPU backend that suits this CPU best. scripts/install.sh builds one CPU backend
    per x86-64 level (GGML_CPU_ALL_VARIANTS, `libggml-cpu-<variant>.so`) and ggml picks among
    them by what the CPU reports; but ggml only looks beside the Python executable and in the
    working directory, so it is pointed at the package's folder here. A build with the CPU
    backend linked in (no variants) has it registered already, and this changes nothing."""
    import ctypes

    from llama_cpp import llama_cpp as bindings

    folder = library_dir()
    if not any(folder.glob("libggml-cpu-*.so")):
        return
    # ggml's functions through the handle of the libllama already loaded, so they act on its
    # libggml: the wheel holds copies, not links, and opening `libggml.so` by its path would
    # load a second libggml with a registry of its own.
    ggml = bindings._lib
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    if ggml.ggml_backend_reg_count() == 0:
        ggml.ggml_backend_load_all_from_path(str(folder).encode())


def library_build() -> tuple[str, BuildInfo]:
    """The installed llama-cpp-python's version and what its CPU backend (the variant chosen
    for this CPU) was compiled with. No model code runs, so this is safe where a decode is not."""
    import llama_cpp

    register_backends()
    text = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return str(llama_cpp.__version__), parse_system_info(text)


def parse_system_info(text: str) -> BuildInfo:
    """Read llama_print_system_info(): `CPU : SSE3 = 1 | AVX2 = 1 | ... | REPACK = 1 | `
    (one `NAME : ...` group per backend; only the CPU backend matters here)."""
    backend, features = "", set[str]()
    for raw in text.split("|"):
        item = raw.strip()
        if " : " in item:  # "CPU : SSE3 = 1": a backend's name, then its first feature
            name, item = (part.strip() for part in item.split(" : ", 1))
            if backend and name != backend:
                break  # a second backend: its features are not the CPU's
            backend = name
        if "=" in item:
            key, value = (part.strip() for part in item.split("=", 1))
            if value not in ("", "0"):
                features.add(key)
    return BuildInfo(backend=backend or "CPU", features=frozenset(features))


def read_cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The instruction-set flags of this CPU (the first `flags` line of /proc/cpuinfo); empty
    where there is no such file, and every decision below then trusts the build."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def missing_features(build: BuildInfo, cpu_flags: frozenset[str]) -> list[str]:
    """The instruction sets the library uses that this CPU lacks (it would die with SIGILL).
    Unknown CPU flags (no /proc/cpuinfo) miss nothing."""
    if not cpu_flags:
        return []
    return [name for name in build.instruction_sets if CPU_FLAG_OF[name] not in cpu_flags]


def plan_extra_buffers(
    setting: ExtraBuffers, *, build: BuildInfo, cpu_flags: frozenset[str]
) -> ExtraBufferPlan:
    """Pure selection. `on` and `off` are obeyed. `auto` leaves them out: with the bundled model
    they bring nothing measurable (bench/llama_build.py: first token 2 % and decoding 4 % faster
    without them, loading 0.14 s faster), and an AMX backend on a CPU with AMX tiles crashes
    llama.cpp 0.3.36 through them."""
    if setting is ExtraBuffers.ON:
        return ExtraBufferPlan(True, "LLAMA_EXTRA_BUFFERS=on")
    if setting is ExtraBuffers.OFF:
        return ExtraBufferPlan(False, "LLAMA_EXTRA_BUFFERS=off")
    if "AMX_INT8" in build.features and "amx_tile" in cpu_flags:
        return ExtraBufferPlan(
            False,
            "auto: off; this llama.cpp has the AMX backend and the CPU has AMX tiles, "
            "which crash llama.cpp 0.3.36 on the first decode",
        )
    return ExtraBufferPlan(False, "auto: off; no faster with them (bench/llama_build.py)")
