"""Compare the distributions installed in this interpreter's environment with a pip lock file.

    VENV/bin/python scripts/deps/check-venv.py LOCK

Prints one line per difference (missing, other version, not in the lock) and exits 1 when there is
any, 0 when the environment holds exactly the lock's name==version pairs (pip, setuptools and wheel,
the venv's own installers, are not compared unless the lock names them).
"""

import importlib.metadata
import re
import sys

INSTALLERS = {"pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(lock_path: str) -> dict[str, str]:
    pins = {}
    with open(lock_path, encoding="utf-8") as lock:
        for line in lock:
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
            if m:
                pins[canonical(m.group(1))] = m.group(2)
    return pins


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: check-venv.py LOCK", file=sys.stderr)
        return 2
    pins = pinned(sys.argv[1])
    if not pins:
        print(f"{sys.argv[1]}: no name==version pins found", file=sys.stderr)
        return 2
    installed = {
        canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    problems = []
    for name, version in sorted(pins.items()):
        have = installed.get(name)
        if have is None:
            problems.append(f"{name}: pinned {version}, not installed")
        elif have != version:
            problems.append(f"{name}: pinned {version}, installed {have}")
    for name, version in sorted(installed.items()):
        if name not in pins and name not in INSTALLERS:
            problems.append(f"{name}: installed {version}, not in the lock")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
