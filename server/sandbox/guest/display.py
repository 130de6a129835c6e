# Rich output as Jupyter has it, the module `_wasm_repl_display`: an object's MIME bundle, built
# from its _repr_*_ methods as IPython's formatters build it; display() and clear_output(), a
# builtin and, for code written for notebooks, the module IPython.display (when the real IPython
# is not installed). What it shows goes to the host through `_wasm_repl.publish_display`, which
# keeps it in order with the cell's streams; the worker counts it against the cell's output cap.
import base64
import builtins
import html
import importlib.machinery
import json
import os
import re
import sys
import types

# The methods a bundle is built from when an object has no _repr_mimebundle_, by MIME type.
_REPR_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("application/json", "_repr_json_"),
    ("text/latex", "_repr_latex_"),
    ("application/javascript", "_repr_javascript_"),
)
# What the host takes for a MIME type (guest-messages.ts checks the same).
_MIME_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+", re.ASCII)
_MAX_MIME_CHARS = 100


def plain_text(value):
    """repr, whatever the object's __repr__ does (it may raise anything)."""
    try:
        return repr(value)
    except BaseException as error:
        return f"<{type(value).__name__} object (repr failed: {type(error).__name__})>"


def _is_json(value):
    """Whether `value` is plain JSON: no NaN or infinity either, which the host's parser refuses."""
    try:
        json.dumps(value, allow_nan=False)
        return True
    except Exception:  # a dict subclass's items() or a deep nesting may raise anything
        return False


def _entry(mime, value):
    """`value` as a bundle carries it for `mime` (image bytes as base64 text), or None when it cannot."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        if mime.startswith("image/") and mime != "image/svg+xml":
            return base64.b64encode(value).decode("ascii")
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if mime.startswith(("text/", "image/")):
        return value if isinstance(value, str) else None
    return value if _is_json(value) else None


def _add(data, mime, value):
    """Puts a valid entry into `data`; whether it did."""
    if not isinstance(mime, str) or len(mime) > _MAX_MIME_CHARS or not _MIME_TYPE.fullmatch(mime):
        return False
    entry = _entry(mime, value)
    if entry is None:
        return False
    data[mime] = entry
    return True


def _repr_method(obj, name):
    """obj's repr method `name` as IPython finds one: never a class's own (a class shows as its
    repr), and only one its type defines (an object whose __getattr__ answers every name has none)."""
    if isinstance(obj, type):
        return None
    try:
        if getattr(type(obj), name, None) is None:
            return None
        method = getattr(obj, name)
    except Exception:
        return None
    return method if callable(method) else None


def _call(method, **kwargs):
    """What a repr method returns, as (data, metadata); nothing when it raises: a broken repr
    never breaks the cell (an interrupt still does)."""
    try:
        returned = method(**kwargs)
    except Exception:
        return None, None
    if isinstance(returned, tuple) and len(returned) == 2:
        return returned
    return returned, None


def bundle(obj, include=None, exclude=None, plain=None):
    """obj's MIME bundle and its metadata: from _repr_mimebundle_ if it has one, else from each
    _repr_*_ method; "text/plain" is the repr (`plain`, when the caller has it already) unless the
    object gave one."""
    data, metadata = {}, {}
    mimebundle = _repr_method(obj, "_repr_mimebundle_")
    if mimebundle is not None:
        found, found_metadata = _call(mimebundle, include=include, exclude=exclude)
        if isinstance(found, dict):
            for mime, value in found.items():
                _add(data, mime, value)
        if isinstance(found_metadata, dict) and _is_json(found_metadata):
            metadata.update(found_metadata)
    else:
        for mime, name in _REPR_METHODS:
            method = _repr_method(obj, name)
            if method is None:
                continue
            value, entry_metadata = _call(method)
            if _add(data, mime, value) and entry_metadata is not None and _is_json(entry_metadata):
                metadata[mime] = entry_metadata
    if "text/plain" not in data:
        data["text/plain"] = plain_text(obj) if plain is None else plain
    if include:
        data = {mime: value for mime, value in data.items() if mime in include}
    if exclude:
        data = {mime: value for mime, value in data.items() if mime not in exclude}
    return data, metadata


def _publish(message):
    # Through the helpers of the current boot: see `_wasm_repl._current`.
    sys.modules["_wasm_repl"].publish_display(message)


def _new_display_id():
    return os.urandom(16).hex()


def display(*objs, include=None, exclude=None, metadata=None, transient=None, display_id=None, raw=False, clear=False, update=False):
    """Shows each object as rich output, as IPython.display.display does. `raw`: the objects are
    MIME bundles already. With a display_id (True makes one) returns a DisplayHandle, through
    which the output can be updated in place."""
    if transient and "display_id" in transient:
        display_id = transient["display_id"]
    if display_id is True:
        display_id = _new_display_id()
    if display_id is not None and not isinstance(display_id, str):
        raise TypeError(f"display_id must be a string or True, not {type(display_id).__name__}")
    if update and display_id is None:
        raise TypeError("display_id required for update_display")
    if not objs and display_id is not None:
        objs, raw = ({},), True  # an empty output, to be updated later
    if clear:
        clear_output(wait=True)
    for obj in objs:
        if raw:
            data, found_metadata = {}, {}
            for mime, value in dict(obj).items():
                _add(data, mime, value)
        else:
            data, found_metadata = bundle(obj, include, exclude)
        if not data and not raw:
            continue
        if metadata:
            found_metadata = {**found_metadata, **metadata}
        _publish({"kind": "display", "data": data, "metadata": found_metadata if _is_json(found_metadata) else {}, "display_id": display_id, "update": bool(update)})
    return DisplayHandle(display_id) if display_id is not None else None


def update_display(obj, *, display_id, **kwargs):
    """Replaces the output shown under `display_id`."""
    display(obj, display_id=display_id, update=True, **kwargs)


def clear_output(wait=False):
    """Clears the cell's output shown so far; `wait`: once the next output arrives."""
    _publish({"kind": "clear_output", "wait": bool(wait)})


class DisplayHandle:
    """An output that can be shown and updated again by its display_id."""

    def __init__(self, display_id=None):
        self.display_id = display_id if display_id is not None else _new_display_id()

    def __repr__(self):
        return f"<{type(self).__name__} display_id={self.display_id}>"

    def display(self, obj, **kwargs):
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs):
        update_display(obj, display_id=self.display_id, **kwargs)


# ---- IPython.display's objects: the same names and arguments, for what a sandbox can show ----


class DisplayObject:
    """Data to show, given or read from a file of the session's. A URL can only be shown by an
    Image (as a link, for the client to fetch): this sandbox has no network to fetch one."""

    _binary = False
    _shown_by_url = False

    def __init__(self, data=None, url=None, filename=None, metadata=None):
        if isinstance(data, str) and url is None and filename is None:
            if self._shown_by_url and data.startswith(("http://", "https://")):
                url, data = data, None
            elif _is_file(data):
                filename, data = data, None
        if url is not None and not self._shown_by_url:
            raise ValueError(f"{type(self).__name__} cannot fetch {url}: this sandbox has no network")
        self.url = url
        self.filename = filename
        self.metadata = dict(metadata) if metadata else {}
        if filename is not None:
            with open(filename, "rb" if self._binary else "r") as file:
                data = file.read()
        self.data = data

    def __repr__(self):
        return f"<IPython.display.{type(self).__name__} object>"

    def _data_and_metadata(self):
        return (self.data, self.metadata) if self.metadata else self.data


def _is_file(path):
    try:
        return len(path) < 4096 and os.path.isfile(path)
    except (OSError, ValueError):
        return False


class TextDisplayObject(DisplayObject):
    def __init__(self, data=None, url=None, filename=None, metadata=None):
        super().__init__(data, url, filename, metadata)
        if isinstance(self.data, bytes):
            self.data = self.data.decode("utf-8", "replace")
        if self.data is not None and not isinstance(self.data, str):
            raise TypeError(f"{type(self).__name__} expects text, not {type(self.data).__name__}")


class HTML(TextDisplayObject):
    def _repr_html_(self):
        return self._data_and_metadata()


class Markdown(TextDisplayObject):
    def _repr_markdown_(self):
        return self._data_and_metadata()


class Latex(TextDisplayObject):
    def _repr_latex_(self):
        return self._data_and_metadata()


class SVG(TextDisplayObject):
    def _repr_svg_(self):
        return self._data_and_metadata()


class Javascript(TextDisplayObject):
    def _repr_javascript_(self):
        return self._data_and_metadata()


class JSON(DisplayObject):
    """A JSON value (or its text), shown as a tree; `expanded` and `root` as IPython's."""

    def __init__(self, data=None, url=None, filename=None, expanded=False, metadata=None, root="root", **kwargs):
        super().__init__(data, url, filename, {"expanded": expanded, "root": root, **(metadata or {}), **kwargs})
        if isinstance(self.data, (str, bytes)):
            self.data = json.loads(self.data)

    def _repr_json_(self):
        return self._data_and_metadata()


_IMAGE_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg"}


class Image(DisplayObject):
    """A PNG or JPEG image: bytes, or a file's (by `filename`, or a path as `data`); a URL is shown
    as a link to it, for the client to fetch."""

    _binary = True
    _shown_by_url = True

    def __init__(self, data=None, url=None, filename=None, format=None, embed=None, width=None, height=None, metadata=None, alt=None):
        super().__init__(data, url, filename, metadata)
        self.embed = self.data is not None if embed is None else embed
        if self.embed and not isinstance(self.data, (bytes, bytearray)):
            raise ValueError("an embedded Image needs its bytes (data=) or a file (filename=)")
        self.format = _image_format(format, filename or url, self.data if self.embed else None)
        self.width, self.height, self.alt = width, height, alt
        for name in ("width", "height", "alt"):
            if getattr(self, name) is not None:
                self.metadata[name] = getattr(self, name)

    def _repr_png_(self):
        return self._data_and_metadata() if self.embed and self.format == "png" else None

    def _repr_jpeg_(self):
        return self._data_and_metadata() if self.embed and self.format == "jpeg" else None

    def _repr_html_(self):
        if self.embed:
            return None
        attributes = "".join(f' {name}="{html.escape(str(value))}"' for name, value in (("width", self.width), ("height", self.height), ("alt", self.alt)) if value is not None)
        return f'<img src="{html.escape(self.url)}"{attributes}/>'


def _image_format(given, name, data):
    """png or jpeg: as given, else from the file's extension, else from the bytes' signature."""
    if given is None and name:
        given = os.path.splitext(name.split("?")[0])[1].lstrip(".").lower() or None
    if given is None and data is not None:
        given = "png" if bytes(data[:8]) == b"\x89PNG\r\n\x1a\n" else "jpeg" if bytes(data[:2]) == b"\xff\xd8" else None
    fmt = _IMAGE_FORMATS.get(str(given).lower())
    if fmt is None:
        raise ValueError(f"Image shows png or jpeg, not {given}")
    return fmt


_IPYTHON_DISPLAY = {
    "display": display,
    "update_display": update_display,
    "clear_output": clear_output,
    "DisplayHandle": DisplayHandle,
    "DisplayObject": DisplayObject,
    "TextDisplayObject": TextDisplayObject,
    "HTML": HTML,
    "Markdown": Markdown,
    "Latex": Latex,
    "SVG": SVG,
    "Javascript": Javascript,
    "JSON": JSON,
    "Image": Image,
}


class _DisplayModule(types.ModuleType):
    """IPython.display, callable: notebooks use `from IPython import display` both ways, as the
    module (display.HTML) and as the function (display(obj))."""

    def __call__(self, *objs, **kwargs):
        return display(*objs, **kwargs)


def _no_shell():
    """IPython.get_ipython: there is no IPython shell here (libraries then show plain output)."""
    return None


class _IPythonFallback:
    """An import finder, last on sys.meta_path, that makes `IPython` and `IPython.display` (and
    IPython.core.display, as older notebooks import it) when no finder before it, and so no
    installed IPython, does."""

    wasm_repl_fallback = True
    _PACKAGES = {"IPython", "IPython.core"}
    _DISPLAY = {"IPython.display", "IPython.core.display"}

    def find_spec(self, name, path=None, target=None):
        if name in self._PACKAGES or name in self._DISPLAY:
            return importlib.machinery.ModuleSpec(name, self, is_package=name in self._PACKAGES)
        return None

    def create_module(self, spec):
        return _DisplayModule(spec.name) if spec.name in self._DISPLAY else None

    def exec_module(self, module):
        if module.__name__ == "IPython":
            module.get_ipython = _no_shell
        elif module.__name__ in self._DISPLAY:
            module.__dict__.update(_IPYTHON_DISPLAY)
            module.__all__ = sorted(_IPYTHON_DISPLAY)


# The finder of an earlier boot (a restored session's) gives way to this one.
sys.meta_path[:] = [finder for finder in sys.meta_path if not getattr(finder, "wasm_repl_fallback", False)]
sys.meta_path.append(_IPythonFallback())
builtins.display = display
