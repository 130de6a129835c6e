# `micropip` as a session sees it: installs from the server's package repository, and wheel files
# the session holds, with no network. Pyodide's own micropip installs with a coroutine, which a
# cell (run synchronously) could not await; here a repository package a cell names is loaded
# before the cell runs (_wasm_repl_packages.requirements), and one whose name the cell computes is
# loaded on the spot if it is pure Python; install() returns an awaitable that is already done
# (`await micropip.install(...)` works too).
import asyncio
import sys

__all__ = ["install", "list"]


def _packages():
    # The module of the current boot, whatever a restored session's references were made under.
    return sys.modules["_wasm_repl_packages"]


def _wheel_path(requirement):
    if requirement.startswith("emfs:"):
        return requirement[len("emfs:"):]
    if requirement.startswith("file:"):
        return requirement[len("file:"):]
    if requirement.endswith(".whl") and "://" not in requirement:
        return requirement
    return None


def _install_one(requirement):
    packages = _packages()
    if not isinstance(requirement, str):
        raise TypeError(f"a requirement is a string, not {type(requirement).__name__}")
    path = _wheel_path(requirement)
    if path is not None:
        with open(path, "rb") as wheel:
            data = wheel.read(packages.MAX_WHEEL_BYTES + 1)
        packages.install_wheel(path.rpartition("/")[2], data)
        return
    if "://" in requirement:
        raise ValueError(f"cannot install {requirement!r}: this sandbox has no network; install from the server's package repository or a wheel file in the session")
    name = packages.resolve(requirement)
    if name not in packages.installed:
        packages.load_now(name)


def install(requirements, keep_going=False, deps=True, credentials=None, pre=False, index_urls=None, *, verbose=False, **_options):
    """Installs packages from the server's repository or wheel files in the session (emfs:/path.whl)."""
    names = [requirements] if isinstance(requirements, str) else list(requirements)
    failures = []
    for requirement in names:
        try:
            _install_one(requirement)
        except Exception as error:
            if not keep_going:
                raise
            failures.append(f"{requirement}: {error}")
    if failures:
        raise ValueError("could not install: " + "; ".join(failures))
    done = asyncio.get_event_loop().create_future()
    done.set_result(None)
    return done


def list():
    """The packages installed in this session, by name: their versions."""
    packages = _packages()
    found = {name: packages._repository[name]["version"] for name in packages.installed if name in packages._repository}
    for path in packages.uploaded:
        name, version = path.rpartition("/")[2].split("-")[:2]
        found[packages.canonical(name)] = version
    return found
