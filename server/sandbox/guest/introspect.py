# Introspection between cells, as a Jupyter kernel answers complete, inspect and is_complete
# requests, the module `_wasm_repl_introspect`: completions from the standard library's
# rlcompleter over the session's globals, an object's signature and docstring, and whether code is
# a whole statement (codeop). `_wasm_repl.introspect` calls it and caps what it answers. No cell
# runs: nothing is executed but the name lookups (and the attribute reads rlcompleter makes) that
# finding an object takes. Cursors count characters of the code, as Python (and Jupyter) count them.
import builtins
import codeop
import inspect
import rlcompleter
import warnings

import _wasm_repl_display as _display

INDENT = "    "


def answer(request, namespace):
    """The reply to one request (IntrospectRequest in ipc.ts) about the names in `namespace`."""
    kind = request["kind"]
    if kind == "complete":
        return complete(request["code"], request["cursor"], namespace)
    if kind == "inspect":
        return inspect_object(request["code"], request["cursor"], request["detail"], namespace)
    return is_complete(request["code"])


def unanswered(request):
    """The reply that says nothing was found (when finding it failed)."""
    kind = request["kind"]
    if kind == "complete":
        cursor = _clamp(request["code"], request["cursor"])
        return {"kind": kind, "matches": [], "cursor_start": cursor, "cursor_end": cursor}
    if kind == "inspect":
        return {"kind": kind, "found": False, "data": {}}
    return {"kind": kind, "status": "invalid", "indent": ""}


def _clamp(code, cursor):
    return max(0, min(int(cursor), len(code)))


def _is_name_char(char):
    return char.isalnum() or char == "_"


def _name_start(code, end):
    """Where the dotted name that ends at `end` starts."""
    start = end
    while start > 0 and (_is_name_char(code[start - 1]) or code[start - 1] == "."):
        start -= 1
    return start


def complete(code, cursor, namespace):
    """The names and attributes that complete the dotted name before the cursor."""
    cursor = _clamp(code, cursor)
    start = _name_start(code, cursor)
    token = code[start:cursor]
    completer = rlcompleter.Completer(namespace)
    found = completer.attr_matches(token) if "." in token else completer.global_matches(token)
    # rlcompleter adds what a readline user types next ("(", "()", ": ", " "): a client inserts names.
    matches = sorted({match.rstrip("(): ") for match in found})
    return {"kind": "complete", "matches": matches, "cursor_start": start, "cursor_end": cursor}


def _name_at(code, cursor):
    """The dotted name under the cursor; else the function whose call's parentheses hold it."""
    end = cursor
    while end < len(code) and _is_name_char(code[end]):
        end += 1
    name = code[_name_start(code, cursor):end].strip(".")
    if name:
        return name
    depth = 0
    for index in range(cursor - 1, -1, -1):
        if code[index] == ")":
            depth += 1
        elif code[index] == "(":
            if depth == 0:
                return code[_name_start(code, index):index].strip(".")
            depth -= 1
    return ""


def _resolve(name, namespace):
    """(True, the object) that a dotted name names, looked up in the session's globals and the builtins."""
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        return False, None
    if parts[0] in namespace:
        obj = namespace[parts[0]]
    elif hasattr(builtins, parts[0]):
        obj = getattr(builtins, parts[0])
    else:
        return False, None
    for part in parts[1:]:
        obj = getattr(obj, part)
    return True, obj


def inspect_object(code, cursor, detail, namespace):
    """What IPython's `obj?` shows as text (`obj??`, with its source, when detail is 1)."""
    name = _name_at(code, _clamp(code, cursor))
    try:
        found, obj = _resolve(name, namespace) if name else (False, None)
    except Exception:  # an attribute that raises names nothing to inspect
        found = False
    if not found:
        return {"kind": "inspect", "found": False, "data": {}}
    return {"kind": "inspect", "found": True, "data": {"text/plain": _describe(name, obj, detail)}}


def _describe(name, obj, detail):
    fields = []
    try:
        signature = str(inspect.signature(obj)) if callable(obj) else None
    except (TypeError, ValueError):  # builtins without a signature
        signature = None
    if signature is not None:
        fields.append(("Init signature" if isinstance(obj, type) else "Signature", f"{name.rsplit('.', 1)[-1]}{signature}"))
    elif not callable(obj):
        fields.append(("String form", _display.plain_text(obj)))
    source = _source(obj) if detail else None
    if source:
        fields.append(("Source", source))
    else:
        doc = inspect.getdoc(obj)
        if doc:
            fields.append(("Docstring", doc))
    fields.append(("Type", type(obj).__name__))
    width = max(len(label) for label, _ in fields) + 2
    return "\n".join(f"{label + ':':<{width}}{value}" for label, value in fields)


def _source(obj):
    try:
        return inspect.getsource(obj).rstrip("\n")
    except Exception:  # defined in C, or nowhere a file (or a cell) can be read
        return None


def is_complete(code):
    """Whether the code is whole statements (complete), needs more lines (incomplete, with the
    indent the next line takes), or cannot become valid (invalid)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = codeop.compile_command(code, "<input>", "exec")
    except (SyntaxError, OverflowError, ValueError):
        return {"kind": "is_complete", "status": "invalid", "indent": ""}
    last = code.rstrip("\n").rsplit("\n", 1)[-1]
    indent = last[: len(last) - len(last.lstrip())]
    # As at Python's prompt (and IPython's), an indented block stays open until a blank line ends
    # it: a console asks this to decide whether Enter runs the code or adds a line.
    lines = code.split("\n")
    block_open = indent != "" and not (len(lines) >= 2 and lines[-1].strip() == "" and lines[-2].strip() == "")
    if compiled is not None and not block_open:
        return {"kind": "is_complete", "status": "complete", "indent": ""}
    if last.rstrip().endswith(":"):
        indent += INDENT
    return {"kind": "is_complete", "status": "incomplete", "indent": indent}
