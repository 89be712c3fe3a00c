"""The llama.cpp build and extra-buffer decisions, with CPU features injected, and the real
library and model loaded as those decisions choose."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.assets import QWEN_05B, ensure_model
from core.config import ExtraBuffers
from core.errors import ModelMissingError
from core.llm.llama_runtime import (
    BuildInfo,
    library_build,
    library_dir,
    missing_features,
    parse_system_info,
    plan_extra_buffers,
    read_cpu_flags,
)
from core.llm.llama_selftest import child_command, prepare, run_child
from tests.conftest import make_settings
from tests.helpers import REPO

# What llama_print_system_info() says for llama-cpp-python 0.3.36 built with its defaults
# (-march=native) on a Sapphire Rapids Xeon, and the /proc/cpuinfo flags of such a CPU.
NATIVE_ON_SAPPHIRE_RAPIDS = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
SAPPHIRE_RAPIDS_FLAGS = frozenset(
    "fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx f16c fma bmi2 avx2 avx512f avx512vbmi "
    "avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8".split()
)
# An AVX2 machine without AVX-512 (Haswell to Alder Lake, Zen 1-3).
AVX2_FLAGS = frozenset("fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx f16c fma bmi2 avx2".split())
# An old CPU without AVX2 (Sandy Bridge).
AVX_ONLY_FLAGS = frozenset("fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx".split())


def test_system_info_is_read_into_the_cpu_backend_and_its_features() -> None:
    build = parse_system_info(NATIVE_ON_SAPPHIRE_RAPIDS)

    assert build.backend == "CPU"
    assert {"AVX2", "AVX512", "AMX_INT8", "REPACK", "OPENMP"} <= build.features
    assert build.instruction_sets[:4] == ["SSE3", "SSSE3", "AVX", "AVX2"]
    assert "REPACK" not in build.instruction_sets


def test_only_the_first_backend_and_only_features_that_are_on_count() -> None:
    build = parse_system_info("CPU : AVX2 = 1 | AVX512 = 0 | REPACK = 1 | RPC : SOMETHING = 1 | ")

    assert build.features == frozenset({"AVX2", "REPACK"})


def test_auto_refuses_extra_buffers_for_an_amx_build_on_an_amx_cpu() -> None:
    """The crash of issue 10: today's default build, on a Xeon with AMX, used the AMX buffers."""
    plan = plan_extra_buffers(
        ExtraBuffers.AUTO,
        build=parse_system_info(NATIVE_ON_SAPPHIRE_RAPIDS),
        cpu_flags=SAPPHIRE_RAPIDS_FLAGS,
    )

    assert plan.use is False
    assert "AMX" in plan.reason


def test_auto_leaves_them_out_where_they_would_work_too() -> None:
    """Measured with the bundled model: no faster with them, so `auto` keeps the safe path."""
    portable = BuildInfo("CPU", frozenset({"SSE3", "AVX", "AVX2", "FMA", "F16C", "REPACK"}))

    for flags in (SAPPHIRE_RAPIDS_FLAGS, AVX2_FLAGS):
        plan = plan_extra_buffers(ExtraBuffers.AUTO, build=portable, cpu_flags=flags)
        assert plan.use is False, flags
        assert plan.reason.startswith("auto: off")


@pytest.mark.parametrize(("setting", "use"), [(ExtraBuffers.ON, True), (ExtraBuffers.OFF, False)])
def test_an_explicit_setting_is_obeyed(setting: ExtraBuffers, use: bool) -> None:
    plan = plan_extra_buffers(
        setting,
        build=parse_system_info(NATIVE_ON_SAPPHIRE_RAPIDS),
        cpu_flags=SAPPHIRE_RAPIDS_FLAGS,
    )

    assert plan.use is use
    assert plan.reason == f"LLAMA_EXTRA_BUFFERS={setting.value}"


def test_a_library_built_for_a_newer_cpu_names_what_this_one_lacks() -> None:
    native = parse_system_info(NATIVE_ON_SAPPHIRE_RAPIDS)

    assert missing_features(native, SAPPHIRE_RAPIDS_FLAGS) == []
    assert missing_features(native, AVX2_FLAGS) == [
        "AVX512",
        "AVX512_VBMI",
        "AVX512_VNNI",
        "AVX512_BF16",
        "AMX_INT8",
    ]
    assert missing_features(native, frozenset()) == []  # no /proc/cpuinfo: trust the build


def test_cpu_flags_come_from_the_first_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nflags\t\t: fpu avx2 amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu\n"
    )

    assert read_cpu_flags(cpuinfo) == frozenset({"fpu", "avx2", "amx_tile"})
    assert read_cpu_flags(tmp_path / "absent") == frozenset()


def test_the_installed_llama_cpp_is_portable() -> None:
    """scripts/install.sh builds one CPU backend per x86-64 level and llama.cpp picks the one
    this CPU runs best. llama-cpp-python's default build (-march=native, a single backend for
    the building machine, with AMX on a Xeon that has it) fails here."""
    variants = {path.name for path in library_dir().glob("libggml-cpu-*.so")}
    version, build = library_build()

    assert {"libggml-cpu-x64.so", "libggml-cpu-haswell.so", "libggml-cpu-skylakex.so"} <= variants
    assert not (library_dir() / "libggml-cpu.so").exists()
    assert version == "0.3.36"
    assert build.backend == "CPU"
    assert {"AVX", "AVX2", "FMA", "F16C", "REPACK"} <= build.features
    assert missing_features(build, read_cpu_flags()) == []  # the variant chosen fits this CPU


def test_an_avx2_only_cpu_gets_a_backend_it_can_run_and_the_model_answers() -> None:
    """What a CPU without AVX-512 loads (the haswell variant), loaded by hand in a child here:
    it carries nothing beyond AVX2 and answers with the bundled model."""
    model = ensure_model(QWEN_05B, make_settings(Path("unused")).model_cache_dir) / QWEN_05B.target
    script = f"""
import ctypes
from llama_cpp import llama_cpp as bindings
from core.llm.llama_runtime import library_build, library_dir
ggml = bindings._lib  # the libggml that libllama uses
ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
ggml.ggml_backend_load.restype = ctypes.c_void_p
assert ggml.ggml_backend_load(str(library_dir() / "libggml-cpu-haswell.so").encode())
print(sorted(library_build()[1].features))
from core.llm.llama_cpp import load_llama
model = load_llama({str(model)!r}, context_tokens=512, threads=2, extra_buffers=True)
print(model.create_completion("The capital of France is", max_tokens=4, temperature=0)
      ["choices"][0]["text"])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr[-2000:]
    features, answer = done.stdout.strip().splitlines()[-2:]
    assert "'AVX2'" in features and "AVX512" not in features and "AMX" not in features
    assert "Paris" in answer


@pytest.mark.parametrize("flags", [SAPPHIRE_RAPIDS_FLAGS, AVX2_FLAGS], ids=["amx", "avx2"])
def test_the_bundled_model_answers_as_planned_for_this_cpu_kind(flags: frozenset[str]) -> None:
    """The real model, loaded in a child with the extra-buffer choice made for an AMX CPU and
    for a plain AVX2 one, answers. With llama-cpp-python's default build on an AMX machine
    (today's code before the fix), this child dies with SIGSEGV."""
    model = ensure_model(QWEN_05B, make_settings(Path("unused")).model_cache_dir) / QWEN_05B.target
    _, build = library_build()
    plan = plan_extra_buffers(ExtraBuffers.AUTO, build=build, cpu_flags=flags)

    result = run_child(child_command(model, plan.use))

    assert result.ok, result.detail


def test_a_cpu_without_avx2_is_told_in_one_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: " + " ".join(sorted(AVX_ONLY_FLAGS)) + "\n")
    model = tmp_path / "never-loaded.gguf"

    with pytest.raises(ModelMissingError) as error:
        prepare(model, setting=ExtraBuffers.AUTO, cache_dir=tmp_path, cpuinfo=cpuinfo)

    message = str(error.value)
    assert "\n" not in message
    assert "AVX2" in message and "FMA" in message and "which this CPU lacks" in message
