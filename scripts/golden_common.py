"""What the scripts that write golden fixtures (and the torch benchmark) share: where the
repository and its fixtures are, re-running a script under a virtualenv that has its
libraries, and writing a fixture. Each script imports it from its own folder
(`import golden_common`), which Python puts first on the path of a script it runs.
"""
import importlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fixture(crate, name):
    """The path of fixture `name` of crate `crate` (crates/<crate>/tests/fixtures/<name>)."""
    return os.path.join(ROOT, "crates", crate, "tests", "fixtures", name)


def q(*xs):
    """Metrics as multiples of 1/8, so JSON carries them exactly."""
    return [x / 8 for x in xs]


def ensure(script, venv, modules, packages, missing):
    """Returns where the current Python imports every one of `modules`; else re-runs
    `script` (its `__file__`) with the Python of `venv`, creating the venv and
    pip-installing `packages` the first time. Inside the venv already, the script exits
    with `missing` and the venv's path."""
    try:
        for m in modules:
            importlib.import_module(m)
        return
    except ImportError:
        pass
    probe = "import " + ", ".join(modules)
    py = os.path.join(venv, "bin", "python")
    if os.path.abspath(sys.executable) == os.path.abspath(py):
        sys.exit(missing + venv)
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    if subprocess.call([py, "-c", probe], stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call([py, "-m", "pip", "install", "-q"] + packages)
    os.execv(py, [py, os.path.abspath(script)] + sys.argv[1:])


def first_venv(venvs, install):
    """The Python of the first of `venvs` that exists; else the last one, created with
    `pip install --quiet` of `install` (packages and pip options)."""
    for venv in venvs:
        py = os.path.join(venv, "bin", "python")
        if os.path.exists(py):
            return py
    venv = venvs[-1]
    py = os.path.join(venv, "bin", "python")
    subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call([py, "-m", "pip", "install", "--quiet"] + install)
    return py


def rerun_with(py, script, marker):
    """Re-runs `script` with the Python `py`, setting the environment variable `marker`
    so the re-run, if it still lacks a library, exits instead of looping."""
    env = dict(os.environ, **{marker: "1"})
    os.execve(py, [py, os.path.abspath(script)] + sys.argv[1:], env)


def write_json(path, doc):
    """Writes `doc` to `path` as the fixtures are written: indent 1, a final newline."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
