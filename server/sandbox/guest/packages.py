# Packages in a session, the module `_wasm_repl_packages`: which packages of the server's
# repository a cell needs (its imports, and the literal names it gives micropip.install), what the
# session has installed, and pure-Python wheels the user installs. The worker loads repository
# packages before a cell runs (a cell runs synchronously: nothing can be awaited inside it).
#
# A pure-Python wheel is not unpacked: the wheel itself goes on sys.path and its modules are
# imported from it (zipimport). Its files live in Pyodide's in-memory file system, which a memory
# snapshot does not hold, but the modules imported from it, the importer's table of contents and
# sys.path do live in the heap: after a restore the worker writes the same bytes back to the same
# path, and the session goes on as before, at the cost of one file per wheel. Packages with compiled
# code are installed by Pyodide's own loader, and a session that holds them is not snapshotted.
import ast
import io
import json
import re
import sys
import zipfile

from pyodide._package_loader import parse_wheel_name, wheel_dist_info_dir

# The repository, set by configure at every boot: {key: {"name", "version", "file_name", "sha256",
# "depends", "imports", "compiled"}} and {import name: key}.
_repository = {}
_imports = {}

# What the session has installed, carried over a restore by adopt: repository packages by key
# ({key: file name}), those put on sys.path as wheels ({path: file name}), and wheels the user
# installed ({path: bytes}).
installed = {}
mounted = {}
uploaded = {}

# Reads a repository file while a cell runs (the worker's, set by attach; None while a snapshot is taken).
_host_file = None

# The wheels a user installs, together (set by configure: PACKAGE_MAX_WHEEL_MB).
MAX_WHEEL_BYTES = 0

# Where wheels go on sys.path: the repository's, and the user's (named by the user).
WHEELS = "/lib/wheels"
USER_WHEELS = "/lib/wheels/user"

_SESSION_STATE = ("installed", "mounted", "uploaded")


def adopt(previous):
    """Takes over what a restored session had installed (None: a fresh interpreter)."""
    if previous is None:
        return
    for name in _SESSION_STATE:
        value = getattr(previous, name, None)
        if type(value) is dict:
            globals()[name] = value


def configure(config_json):
    """The repository's packages (the worker reads the lock file) and the cap of an installed wheel."""
    global _repository, _imports, MAX_WHEEL_BYTES
    config = json.loads(config_json)
    _repository = config["packages"]
    _imports = config["imports"]
    MAX_WHEEL_BYTES = config["max_wheel_bytes"]


def attach(host_file):
    global _host_file
    _host_file = host_file


def detach():
    """A snapshot cannot hold references to JavaScript objects: drop ours."""
    global _host_file
    _host_file = None


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def available():
    """The repository's package names, for error messages: test packages left out."""
    return sorted(name for name in _repository if not name.endswith("-tests"))


class PackageNotFoundError(ValueError):
    pass


def unknown(name):
    names = available()
    listed = ", ".join(names) if names else "none: this server has no package repository (PYODIDE_PACKAGES_DIR)"
    return PackageNotFoundError(f"no package named {name!r} in this server's package repository; available: {listed}")


# A requirement as micropip takes one: a name, extras, and version clauses.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")
_CLAUSE = re.compile(r"^(==|!=|>=|<=|~=|>|<)\s*([A-Za-z0-9.*+!_-]+)$")


def _version_key(version):
    return tuple(int(part) if part.isdigit() else -1 for part in re.split(r"[.+!_-]", version))


def _satisfies(version, operator, wanted):
    if wanted.endswith(".*") and operator in ("==", "!="):
        matches = version == wanted[:-2] or version.startswith(wanted[:-1])
        return matches if operator == "==" else not matches
    have, want = _version_key(version), _version_key(wanted)
    if operator == "~=":
        return have >= want and have[: max(1, len(want) - 1)] == want[: max(1, len(want) - 1)]
    return {"==": have == want, "!=": have != want, ">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want}[operator]


def resolve(requirement):
    """The repository package a requirement names; a clear error when there is none that fits."""
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    name, _extras, clauses = match.groups()
    key = canonical(name)
    if key not in _repository:
        raise unknown(name)
    version = _repository[key]["version"]
    for clause in filter(None, (part.strip() for part in clauses.split(","))):
        parsed = _CLAUSE.match(clause)
        if not parsed:
            raise ValueError(f"not a version clause: {clause!r} in {requirement!r}")
        if not _satisfies(version, *parsed.groups()):
            raise ValueError(f"the repository has {name} {version}, which does not satisfy {clause}")
    return key


def _micropip_names(tree):
    """The literal requirements of micropip.install(...) calls (a string or a list of them)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "install"):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "micropip" and node.args):
            continue
        argument = node.args[0]
        items = argument.elts if isinstance(argument, (ast.List, ast.Tuple)) else [argument]
        for item in items:
            if isinstance(item, ast.Constant) and isinstance(item.value, str) and "://" not in item.value and not item.value.endswith(".whl"):
                yield item.value


def _imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0]


def requirements(code):
    """The repository packages a cell needs that the session has not loaded, as a JSON list."""
    if not _repository:
        return "[]"
    try:
        tree = ast.parse(code)
    except BaseException:
        # A syntax error, nesting too deep, an interrupt (which the host repeats): the cell meets
        # it again when it runs; nothing here may escape into the worker.
        return "[]"
    wanted = set()
    for name in _imported_names(tree):
        package = _imports.get(name)
        if package is not None and name not in sys.modules:
            wanted.add(package)
    for requirement in _micropip_names(tree):
        try:
            wanted.add(resolve(requirement))
        except ValueError:
            pass  # micropip.install says what is wrong when the cell runs
    return json.dumps(sorted(name for name in wanted if name not in installed))


def _needed(keys):
    """Packages (lock keys) and their dependencies the session lacks, dependencies first."""
    needed = []

    def visit(key):
        if key in installed or key in needed or key not in _repository:
            return
        for dependency in _repository[key]["depends"]:
            visit(canonical(dependency))
        needed.append(key)

    for key in keys:
        visit(key)
    return needed


def _wheel_path(key):
    return f"{WHEELS}/{_repository[key]['file_name']}"


def plan(keys_json):
    """What loading packages (lock keys) takes: them and their dependencies the session lacks,
    and whether any has compiled code (then Pyodide's loader installs them all)."""
    needed = _needed(json.loads(keys_json))
    wheels = [{"key": key, "path": _wheel_path(key), **{field: _repository[key][field] for field in ("name", "file_name", "sha256")}} for key in needed]
    return json.dumps({"compiled": any(_repository[key]["compiled"] for key in needed), "wheels": wheels})


def load_now(key):
    """Loads a pure-Python repository package, and its dependencies, while a cell runs (a name
    micropip.install got at run time); the file comes through the worker's blocking call."""
    import hashlib
    import os

    import pyodide_js

    needed = _needed([key])
    compiled_ones = [name for name in needed if _repository[name]["compiled"]]
    if compiled_ones:
        raise RuntimeError(
            f"{', '.join(compiled_ones)} has compiled code, which loads only before a cell runs: "
            f"import it, or write micropip.install({key!r}) with the name in the cell"
        )
    for name in needed:
        entry = _repository[name]
        data = _current_module()._host_file(entry["file_name"]).to_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ImportError(f"could not load {name} from the package repository: {entry['file_name']} does not match its sha256 in the lock file")
        path = _wheel_path(name)
        os.makedirs(WHEELS, exist_ok=True)
        with open(path, "wb") as file:
            file.write(data)
        mount(name, path)
        setattr(pyodide_js.loadedPackages, entry["name"], "default channel")


def _current_module():
    # The module of the current boot: a restored session's references may be to an earlier one's.
    return sys.modules["_wasm_repl_packages"]


def loaded(names_json):
    """Records repository packages Pyodide's loader installed (its loadedPackages)."""
    for name in json.loads(names_json):
        key = canonical(name)
        if key in _repository:
            installed.setdefault(key, _repository[key]["file_name"])


def _on_path(path):
    if path not in sys.path:
        sys.path.append(path)
    import importlib

    importlib.invalidate_caches()


def _check_archive(path):
    """A wheel that is no zip archive would be skipped on sys.path without a word: refused instead."""
    import zipimport

    try:
        zipimport.zipimporter(path)
    except zipimport.ZipImportError as error:
        raise ValueError(f"{path.rpartition('/')[2]} is not a valid wheel: {error}") from None


def mount(key, path):
    """Puts a repository wheel the worker wrote to `path` on sys.path."""
    _check_archive(path)
    _on_path(path)
    installed[key] = _repository[key]["file_name"]
    mounted[path] = installed[key]


def to_reinstall():
    """The wheels the worker writes back after a restore, as [{"name", "path", "file_name"}]:
    those the repository still holds (the modules of the others stay, their files do not)."""
    names = {entry["file_name"]: entry["name"] for entry in _repository.values()}
    return json.dumps([{"name": names[file_name], "path": path, "file_name": file_name} for path, file_name in mounted.items() if file_name in names])


def compiled():
    """The installed packages with compiled code (a memory snapshot cannot keep their modules), as JSON."""
    return json.dumps(sorted(name for name in installed if _repository.get(name, {}).get("compiled")))


def reinstall_uploaded():
    import os

    for path, data in uploaded.items():
        os.makedirs(path.rpartition("/")[0], exist_ok=True)
        with open(path, "wb") as file:
            file.write(data)


def _applied(work, *args):
    """Runs work for the worker: None when it succeeded, else the error described as a cell's (JSON)."""
    try:
        work(*args)
        return None
    except BaseException as caught:
        return json.dumps(sys.modules["_wasm_repl"]._describe(caught))


def _import_all(names_json):
    import importlib

    for key in json.loads(names_json):
        for module in _repository[key]["imports"]:
            importlib.import_module(module)


def import_packages(names_json):
    """Imports every module of repository packages (loaded already): the base snapshot holds them."""
    return _applied(_import_all, names_json)


def _check_pure_wheel(filename, data):
    """A pure-Python wheel, within the cap; anything else is refused with the reason."""
    if len(data) > MAX_WHEEL_BYTES:
        raise ValueError(f"the wheel is {len(data)} bytes; at most {MAX_WHEEL_BYTES} may be installed (PACKAGE_MAX_WHEEL_MB)")
    try:
        name, _version, _python, abi, platform = parse_wheel_name(filename.removesuffix(".whl"))
    except ValueError:
        raise ValueError(f"{filename!r} is not a wheel's file name (name-version-python-abi-platform.whl)") from None
    if not filename.endswith(".whl") or "/" in filename or abi != "none" or platform != "any":
        raise ValueError(f"{filename!r} is not a pure-Python wheel (…-none-any.whl): only those can be installed here")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            broken = archive.testzip()
            wheel_dist_info_dir(archive, name)
            compiled_files = [path for path in archive.namelist() if path.endswith((".so", ".pyd", ".dylib"))]
    except zipfile.BadZipFile as error:
        raise ValueError(f"{filename!r} is not a valid wheel: {error}") from None
    if broken is not None:
        raise ValueError(f"{filename!r} is damaged: {broken} fails its checksum")
    if compiled_files:
        raise ValueError(f"{filename!r} holds compiled code ({compiled_files[0]}): only pure-Python wheels can be installed here")
    return canonical(name)


def install_wheel(filename, data):
    """Installs a user's pure-Python wheel into the session; kept so that it survives hibernation."""
    name = _check_pure_wheel(filename, data)
    replaced = [path for path in uploaded if canonical(parse_wheel_name(path.rpartition("/")[2].removesuffix(".whl"))[0]) == name]
    total = len(data) + sum(len(wheel) for path, wheel in uploaded.items() if path not in replaced)
    if total > MAX_WHEEL_BYTES:
        raise ValueError(f"the session's wheels would take {total} bytes; at most {MAX_WHEEL_BYTES} may be installed (PACKAGE_MAX_WHEEL_MB)")
    for path in replaced:
        del uploaded[path]
        if path in sys.path:
            sys.path.remove(path)
        for module in [module for module, value in sys.modules.items() if getattr(value, "__file__", None) and value.__file__.startswith(path + "/")]:
            del sys.modules[module]
    import os

    os.makedirs(USER_WHEELS, exist_ok=True)
    path = f"{USER_WHEELS}/{filename}"
    with open(path, "wb") as file:
        file.write(data)
    uploaded[path] = data
    _on_path(path)
    return name


def install_uploaded(filename, buffer):
    """The worker's entry for an uploaded wheel: an error description as JSON, or None."""
    return _applied(install_wheel, filename, buffer.to_bytes())

