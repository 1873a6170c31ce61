"""The wheel's build backend: maturin's, plus the ``lrsched`` command in the same wheel.

maturin builds one kind of artifact per wheel (the PyO3 extension module here), not a
binary beside it (PyO3/maturin#368). So before maturin runs, this backend builds the Rust
CLI (``crates/lrsched-cli``, ``cargo build --release``) and stages the executable as
``lrsched_rs.data/scripts/lrsched``: maturin puts that folder in the wheel's ``.data``
directory, and pip installs its ``scripts/`` into the environment's ``bin/``, as ruff's
wheel ships ``ruff``. So ``pip install`` gives the native command, not a Python shim:
its exit status, signals and process group are the CLI's own.

``LRSCHED_CLI_BIN=/path/to/lrsched`` stages an executable already built instead (CI
packs the one its ``cargo test`` built, saving a second, release build of the workspace).

Wheels are built from a checkout (``pip install ./python``, ``pip wheel ./python``): an
sdist would hold only the extension's crates, not the CLI's, so ``build_sdist`` refuses
rather than make wheels without the command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import maturin
from maturin import (  # noqa: F401  (the PEP 517 hooks this backend does not change)
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)

HERE = Path(__file__).resolve().parents[1]  # python/, where pyproject.toml is
STAGED = HERE / "lrsched_rs.data" / "scripts" / "lrsched"


def _fail(message: str) -> None:
    sys.stderr.write(f"lrsched_build: {message}\n")
    raise SystemExit(1)


def _built_cli() -> Path:
    """``cargo build --release -p lrsched-cli``; the executable's path, as cargo reports
    it (so ``CARGO_TARGET_DIR`` and any build flags are followed)."""
    if not (HERE.parent / "crates" / "lrsched-cli" / "Cargo.toml").is_file():
        _fail(
            "crates/lrsched-cli is not beside python/: build the wheel from a checkout of "
            "the repository, or set LRSCHED_CLI_BIN to a built `lrsched` executable"
        )
    cmd = ["cargo", "build", "--release", "-p", "lrsched-cli", "--bin", "lrsched",
           "--message-format=json-render-diagnostics"]
    print("Running `{}` (the lrsched command for the wheel)".format(" ".join(cmd)), flush=True)
    try:
        out = subprocess.run(cmd, cwd=HERE.parent, stdout=subprocess.PIPE, check=False)
    except FileNotFoundError:
        _fail("`cargo` is not on PATH: the wheel builds the lrsched command with Rust's cargo")
    if out.returncode != 0:
        _fail(f"`{' '.join(cmd)}` failed with exit status {out.returncode} (its errors are above)")
    exe = None
    for line in out.stdout.decode(errors="replace").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                msg.get("target", {}).get("name") == "lrsched":
            exe = msg["executable"]
    if not exe:
        _fail(f"`{' '.join(cmd)}` reported no `lrsched` executable")
    return Path(exe)


def stage_cli() -> Path:
    """Puts the ``lrsched`` executable where maturin packs it; returns its path."""
    given = os.environ.get("LRSCHED_CLI_BIN")
    if given:
        src = Path(given)
        if not (src.is_file() and os.access(src, os.X_OK)):
            _fail(f"LRSCHED_CLI_BIN = {given!r} is not an executable file")
    else:
        src = _built_cli()
    STAGED.parent.mkdir(parents=True, exist_ok=True)
    tmp = STAGED.with_name(".lrsched.tmp")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, STAGED)  # never a half-copied executable under the packed name
    return STAGED


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    # maturin wants the data folder to exist even for the metadata alone; the command
    # itself is built only for a wheel.
    STAGED.parent.mkdir(parents=True, exist_ok=True)
    return maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    stage_cli()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    stage_cli()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    _fail(
        "no sdist: the wheel holds the lrsched command built from crates/lrsched-cli, which "
        "an sdist of python/ would not contain; build wheels from a checkout "
        "(`pip wheel ./python`)"
    )
