"""``python -m lrsched_rs ARGS``: the ``lrsched`` command this wheel installed.

The wheel puts the native ``lrsched`` executable in the environment's scripts folder
(``bin/``). This finds that one, not whichever ``lrsched`` is first on ``PATH`` (the
unrelated ``lrsched`` package on PyPI installs a command of that name too), and runs it
in place of this process, so its exit status and signals are the command's own.

>>> from lrsched_rs.__main__ import find_bin
>>> import os
>>> os.access(find_bin(), os.X_OK)
True
"""

from __future__ import annotations

import os
import sys
import sysconfig


def find_bin() -> str:
    """The path of the ``lrsched`` executable installed with this package.

    Looked for where pip puts a wheel's scripts for this interpreter: the install
    scheme's scripts folder, then the user scheme's (``pip install --user``).
    """
    name = "lrsched.exe" if sys.platform == "win32" else "lrsched"
    schemes = [sysconfig.get_default_scheme()]
    user = sysconfig.get_preferred_scheme("user") if hasattr(sysconfig, "get_preferred_scheme") \
        else f"{os.name}_user"
    schemes.append(user)
    tried = []
    for scheme in schemes:
        try:
            folder = sysconfig.get_path("scripts", scheme=scheme)
        except KeyError:
            continue
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        tried.append(path)
    raise FileNotFoundError(
        f"the lrsched command is not installed with lrsched_rs (looked for {', '.join(tried)}): "
        "reinstall the lrsched-rs wheel"
    )


def main() -> None:
    path = find_bin()
    args = [path, *sys.argv[1:]]
    if sys.platform == "win32":
        import subprocess

        raise SystemExit(subprocess.call(args))
    os.execv(path, args)


if __name__ == "__main__":
    main()
