"""One `pip install` of the built wheel gives both the package and the `lrsched` command.

scripts/test-all builds the wheel (python/build_backend: maturin plus the Rust CLI) and
names it in LRSCHED_WHEEL; each interpreter in LRSCHED_WHEEL_PYTHONS (test-all: the
toolchain's python3 and Debian's /usr/bin/python3) gets a fresh venv with nothing but
that wheel, installed offline, and must run `lrsched` from the venv's bin/, `python -m
lrsched_rs` and the extension module. Without LRSCHED_WHEEL the tests skip, except under
CI, where a wheel that was not tested is a failure.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WHEEL = os.environ.get("LRSCHED_WHEEL")
IN_CI = os.environ.get("CI") == "true"


def interpreters():
    given = os.environ.get("LRSCHED_WHEEL_PYTHONS")
    if given:
        return given.split(os.pathsep)
    return [getattr(sys, "_base_executable", sys.executable), "/usr/bin/python3"]


def need_wheel():
    if WHEEL and Path(WHEEL).is_file():
        return
    if IN_CI:
        pytest.fail(f"LRSCHED_WHEEL = {WHEEL!r} is not a built wheel: CI must test the wheel")
    pytest.skip("no wheel to test (scripts/test-all sets LRSCHED_WHEEL)")


def run(*args, env=None, check=True):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=300, env=env, check=check)


@pytest.fixture(scope="module", params=interpreters())
def venv(request, tmp_path_factory):
    need_wheel()
    python = request.param
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        if IN_CI:
            pytest.fail(f"{python} is not an interpreter here: CI tests the wheel on it")
        pytest.skip(f"{python} is not here")
    where = tmp_path_factory.mktemp("fresh-venv")
    run(python, "-m", "venv", where)
    # Offline and without dependencies: what the wheel itself brings is all there is.
    run(where / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", "--no-deps", WHEEL)
    return where


def clean_env(venv):
    """The environment a user of the venv has: its bin/ first on PATH, no LRSCHED_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LRSCHED_", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def test_the_command_is_the_wheels_native_lrsched(venv):
    exe = venv / "bin" / "lrsched"
    assert exe.is_file() and os.access(exe, os.X_OK)
    # A native executable, not a Python shim: ELF's magic number.
    assert exe.read_bytes()[:4] == b"\x7fELF"
    env = clean_env(venv)
    version = run(venv / "bin" / "python", "-c",
                  "import lrsched_rs; print(lrsched_rs.__version__)", env=env).stdout.strip()
    # Found by name on the venv's PATH, as a user types it.
    assert run("lrsched", "--version", env=env).stdout.strip() == f"lrsched {version}"
    assert "compare" in run("lrsched", "--help", env=env).stdout


def test_the_command_and_the_module_give_the_same_values(venv):
    env = clean_env(venv)
    schedule = "warmup(steps=3, schedule=OneCycleLR(max_lr=0.1, total_steps=20))"
    printed = run("lrsched", "trace", "--schedule", schedule, "--steps", "23", env=env).stdout
    # No numpy in the fresh venv: values() is a list.
    code = f"import json, lrsched_rs; print(json.dumps(lrsched_rs.Schedule({schedule!r}).values(23)))"
    computed = json.loads(run(venv / "bin" / "python", "-c", code, env=env).stdout)
    assert [float(v) for v in printed.split()] == computed


def test_python_m_lrsched_rs_runs_the_installed_command(venv):
    env = clean_env(venv)
    # PATH without the venv: `python -m lrsched_rs` finds the wheel's own command.
    env["PATH"] = "/usr/bin:/bin"
    out = run(venv / "bin" / "python", "-m", "lrsched_rs", "list", env=env).stdout
    assert "CosineAnnealingWarmRestarts" in out
    # The command's exit status and its one-line error come through unchanged.
    bad = run(venv / "bin" / "python", "-m", "lrsched_rs", "trace", "--schedule",
              "cosine(lr=0.1)", "--steps", "3", env=env, check=False)
    assert bad.returncode == 2
    assert "steps" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
