# wasm-repl's helpers inside the interpreter, the module `_wasm_repl` (frames from this file are
# named "<wasm-repl>" and left out of tracebacks). The worker executes this file at every boot,
# after a restore too: a session can rebind anything in the module it had, so the module's code is
# always the server's, and only the session's data is adopted from the old one (adopt). The
# worker calls run_cell/set_vars/set_environment/add_context/before_snapshot/after_restore; user code never sees
# this module in its globals.
import ast
import builtins
import getpass
import json
import linecache
import math
import os
import random
import re
import sys
import time
import traceback
import types

import _wasm_repl_display as _display
import _wasm_repl_introspect as _introspect

# Caps of a cell's result; after_restore sets them from the host's (ipc.ts, RESULT_CAPS), which
# checks them again: what this module sends is not trusted.
MAX_STRING = 1000
MAX_NAME = 100
MAX_ERROR = 10_000
MAX_RESULT_BYTES = 1_048_576
MAX_ITEMS = 100
MAX_DEPTH = 4
SAFE_INT = 2**53

MAX_BATCH_PROMPTS = 1000  # as the host's check of llm_request
MAX_PROMPT_CHARS = 16 * 1024 * 1024  # set by after_restore, as the host's check
MAX_INPUT_PROMPT = 4096  # set by after_restore (INPUT_CAPS), as the host's check
MAX_TOOL_ARGS = 1024 * 1024  # set by after_restore (TOOL_CAPS), as the host's check
# An introspection reply's caps; set by after_restore (INTROSPECT_CAPS), as the host's check.
MAX_MATCHES, MAX_MATCH, MAX_INSPECT, MAX_INDENT = 1000, 500, 65536, 256

execution_count = 0
user_globals = {"__name__": "__main__", "__builtins__": builtins}
_previous_summaries = {}
_host_sleep = None
_host_llm = None
_host_display = None
_host_input = None
_host_tool = None
_memory_cap_mb = 0
_final_answer = None
_payload_counts = {"context": 0, "history": 0}
_tool_specs = []  # the tools the client declared: [{"name": ..., "description": ...}]


# What a session's snapshot carries over into the module of a new boot (see the top of the file).
_SESSION_STATE = ("user_globals", "execution_count", "_previous_summaries", "_payload_counts", "_tool_specs")


def adopt(previous):
    """Takes over the session's data from the module a restored snapshot held (None: the first
    boot, which the base snapshot is made of)."""
    if previous is None:
        # Emscripten names the program that built the base snapshot in `_`: a path of the host.
        os.environ.pop("_", None)
        return
    for name in _SESSION_STATE:
        value = getattr(previous, name, None)
        if type(value) is type(globals()[name]):
            globals()[name] = value
    _restore_scaffold()


def after_restore(host_sleep, host_llm, host_display, host_input, host_tool, config_json, reseed):
    """Runs in every sandbox right after a snapshot is restored (and after one is taken)."""
    global _host_sleep, _host_llm, _host_display, _host_input, _host_tool, _memory_cap_mb
    global MAX_STRING, MAX_NAME, MAX_ERROR, MAX_RESULT_BYTES, MAX_PROMPT_CHARS, MAX_INPUT_PROMPT, MAX_TOOL_ARGS
    global MAX_MATCHES, MAX_MATCH, MAX_INSPECT, MAX_INDENT
    _host_sleep = host_sleep
    _host_llm = host_llm
    _host_display = host_display
    _host_input = host_input
    _host_tool = host_tool
    config = json.loads(config_json)
    _memory_cap_mb = config["memory_cap_mb"]
    MAX_PROMPT_CHARS = config["max_prompt_chars"]
    MAX_INPUT_PROMPT = config["input_caps"]["promptChars"]
    MAX_TOOL_ARGS = config["tool_caps"]["argsChars"]
    introspect_caps = config["introspect_caps"]
    MAX_MATCHES, MAX_MATCH = introspect_caps["matches"], introspect_caps["matchChars"]
    MAX_INSPECT, MAX_INDENT = introspect_caps["inspectChars"], introspect_caps["indentChars"]
    caps = config["caps"]
    MAX_STRING, MAX_NAME, MAX_ERROR, MAX_RESULT_BYTES = caps["stringChars"], caps["nameChars"], caps["errorChars"], caps["resultBytes"]
    if reseed:
        # The base snapshot freezes the RNG: without this every session would draw the same numbers.
        random.seed()


def before_snapshot():
    """A snapshot cannot hold references to JavaScript objects: drop ours."""
    global _host_sleep, _host_llm, _host_display, _host_input, _host_tool
    _host_sleep = None
    _host_llm = None
    _host_display = None
    _host_input = None
    _host_tool = None


def _current():
    """The helpers module this boot installed. A function of an earlier boot's module, which a
    restored session's variables may hold (`from time import sleep`), reaches the host through it:
    its own module's handles were dropped before the snapshot was taken."""
    return sys.modules["_wasm_repl"]


def _sleep(seconds):
    # emscripten's sleep busy-waits and ignores interrupts; the host waits on the interrupt word.
    if not isinstance(seconds, (int, float)):
        raise TypeError(f"'{type(seconds).__name__}' object cannot be interpreted as a number")
    if math.isnan(seconds) or seconds < 0:
        raise ValueError("sleep length must be non-negative")
    _current()._host_sleep(seconds)


time.sleep = _sleep


def _flush_streams():
    """Sends what the cell wrote so far: what follows (a display, the result) comes after it."""
    try:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except Exception:  # the session may have replaced the streams with anything
        pass


def _read_line(prompt, password):
    """A line from the client, asked for with `prompt`; EOFError when none can come."""
    prompt = _cap_string(str(prompt), MAX_INPUT_PROMPT)
    _flush_streams()  # what the cell wrote before it asked comes before the question
    host_input = _current()._host_input
    if host_input is None:
        raise EOFError("input() is not available in this sandbox")
    answer = json.loads(host_input(prompt, bool(password)))
    if "text" in answer:
        return answer["text"]
    raise EOFError(answer["error"])


def _input(prompt=""):
    """Reads a line from the client (the host asks it; standard input is the host's pipe)."""
    return _read_line(prompt, False)


def _getpass(prompt="Password: ", stream=None):
    """Reads a line from the client without showing it."""
    return _read_line(prompt, True)


builtins.input = _input
getpass.getpass = _getpass


# ---- tools: functions on the client's side (the client declares them; see set_tools) ----


class ToolError(Exception):
    """A client's tool failed, or no client answered it in time."""


def _call_tool(name, args, kwargs):
    """One blocking round trip through the host to the client that declared the tool."""
    try:
        encoded = json.dumps([list(args), kwargs], allow_nan=False)
    except (TypeError, ValueError) as caught:
        raise TypeError(f"the arguments of tool {name} must be JSON values (str, int, float, bool, None, list, dict): {caught}") from None
    if len(encoded) > MAX_TOOL_ARGS:
        raise ToolError(f"the arguments of tool {name} are over {MAX_TOOL_ARGS} characters as JSON")
    _flush_streams()  # what the cell wrote before the call comes before it
    host_tool = _current()._host_tool
    if host_tool is None:
        raise ToolError("tools are not available in this sandbox")
    answer = json.loads(host_tool(name, encoded))
    if "value" in answer:
        return json.loads(answer["value"])
    raise ToolError(answer["error"])


def _tool_function(spec):
    name = spec["name"]

    # Through _current(): a function a restored session holds belongs to an earlier boot's module.
    def tool(*args, **kwargs):
        return _current()._call_tool(name, args, kwargs)

    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = spec.get("description") or f"{name}: a tool of the client's (it runs on the client's side)"
    tool._wasm_repl_tool = True
    return tool


class _Tools:
    """`tools`: the client's declared tools, as tools.<name>(...)."""

    __slots__ = ()

    def __getattr__(self, name):
        for spec in _current()._tool_specs:
            if spec["name"] == name:
                return _tool_function(spec)
        declared = ", ".join(spec["name"] for spec in _current()._tool_specs) or "none"
        raise AttributeError(f"no tool named {name!r} is declared (declared: {declared})")

    def __dir__(self):
        return [spec["name"] for spec in _current()._tool_specs]

    def __repr__(self):
        return f"<tools: {', '.join(self.__dir__()) or 'none declared'}>"


_TOOLS = _Tools()


def _ours(name):
    """Whether the global `name` is a tool function (or the tools helpers) this module put there."""
    value = user_globals.get(name)
    if getattr(value, "_wasm_repl_tool", False) is True:
        return True
    # By name: after a restore they are an earlier boot's module's classes.
    kind = value if isinstance(value, type) else type(value)
    return kind.__module__ == __name__ and kind.__name__ in ("ToolError", "_Tools")


def set_tools(encoded):
    """Makes the declared tools (a JSON list of {name, description}, checked by the host) global
    functions, with `tools` and `ToolError` beside them; the functions of tools no longer declared
    go, unless the session rebound their names. Returns an error description or None."""
    global _tool_specs
    try:
        specs = json.loads(encoded)
        names = {spec["name"] for spec in specs}
        for spec in _tool_specs:
            if spec["name"] not in names and _ours(spec["name"]):
                del user_globals[spec["name"]]
        _tool_specs = specs
        for spec in specs:
            user_globals[spec["name"]] = _tool_function(spec)
        for name, value in (("tools", _TOOLS), ("ToolError", ToolError)):
            if specs:
                user_globals[name] = value
            elif _ours(name):
                del user_globals[name]
        return None
    except BaseException as caught:
        return json.dumps(_describe(caught))


def publish_display(message):
    """Sends a display message (display.py makes them) to the host, after the cell's output so far."""
    display_id = message.get("display_id")
    if display_id is not None and len(display_id) > MAX_NAME:
        raise ValueError(f"a display_id has at most {MAX_NAME} characters")
    _flush_streams()
    if _host_display is not None:
        _host_display(json.dumps(message, allow_nan=False))


# ---- the RLM library's REPL helpers (alexzhang13/rlm): same names, same "Error: ..." texts ----


def _ask(prompts, model, recursive):
    """One blocking round trip to the host; every failure becomes an "Error: ..." text per prompt."""
    if model is not None and not isinstance(model, str):
        return ["Error: model must be a string or None"] * len(prompts)
    if model is not None and len(model) > MAX_NAME:
        return [f"Error: a model name has at most {MAX_NAME} characters"] * len(prompts)
    texts = [prompt if isinstance(prompt, str) else json.dumps(prompt, default=str) for prompt in prompts]
    if sum(len(text) for text in texts) > MAX_PROMPT_CHARS // 2:  # a character may take two of the host's
        return [f"Error: the prompts hold more than {MAX_PROMPT_CHARS // 2} characters"] * len(texts)
    host_llm = _current()._host_llm
    if host_llm is None:
        return ["Error: no LLM is available in this sandbox"] * len(texts)
    answer = json.loads(host_llm(json.dumps({"prompts": texts, "model": model, "recursive": recursive})))
    if isinstance(answer, dict):
        return [f"Error: {answer.get('error')}"] * len(texts)
    return answer


def _batch(prompts, model, recursive):
    if not isinstance(prompts, (list, tuple)):
        return f"Error: prompts must be a list of prompts, not {type(prompts).__name__}"
    if len(prompts) > MAX_BATCH_PROMPTS:
        return [f"Error: a batch holds at most {MAX_BATCH_PROMPTS} prompts"] * len(prompts)
    return _ask(list(prompts), model, recursive) if prompts else []


def llm_query(prompt, model=None):
    """One completion from the model (through the server: this sandbox has no network)."""
    return _ask([prompt], model, False)[0]


def llm_query_batched(prompts, model=None):
    """Completions of many prompts, made concurrently; answers in the prompts' order."""
    return _batch(prompts, model, False)


def rlm_query(prompt, model=None):
    """A child RLM with the prompt as its context; a plain llm_query at the depth limit."""
    return _ask([prompt], model, True)[0]


def rlm_query_batched(prompts, model=None):
    return _batch(prompts, model, True)


def _visible_vars():
    return {name: type(value).__name__ for name, value in _user_names() if not name.startswith("_") and name != "answer"}


def SHOW_VARS():
    available = _visible_vars()
    if not available:
        return "No variables created yet. Use ```repl``` blocks to create variables."
    return f"Available variables: {available}"


def FINAL_VAR(variable_name):
    """Makes a variable (named by a string) or a value the cell's final answer."""
    global _final_answer
    if not isinstance(variable_name, str):
        _final_answer = str(variable_name)
        return _final_answer
    name = variable_name.strip().strip("\"'")
    if name in user_globals and name not in HELPER_NAMES:
        _final_answer = str(user_globals[name])
        return _final_answer
    available = _visible_vars()
    if not available:
        return (f"Error: Variable '{name}' not found. No variables have been created yet. "
                "You must create and assign a variable in a REPL block BEFORE calling FINAL_VAR on it.")
    return (f"Error: Variable '{name}' not found. Available variables: {available}. "
            "You must create and assign a variable BEFORE calling FINAL_VAR on it.")


class _AnswerDict(dict):
    """`answer`: setting answer["ready"] to a true value gives answer["content"] as the final answer."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if key == "ready" and value:
            _capture(self.get("content", ""))

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


def _capture(content):
    global _final_answer
    try:
        _final_answer = str(content)
    except BaseException:  # a user's __str__ may raise anything
        _final_answer = _safe_repr(content)


HELPERS = {
    "llm_query": llm_query,
    "llm_query_batched": llm_query_batched,
    "rlm_query": rlm_query,
    "rlm_query_batched": rlm_query_batched,
    "SHOW_VARS": SHOW_VARS,
    "FINAL_VAR": FINAL_VAR,
}
HELPER_NAMES = set(HELPERS)
_UNTOUCHED_ANSWER = {"content": "", "ready": False}


def _restore_scaffold():
    """After every cell: the helpers, `answer`, and the `context`/`history` aliases come back."""
    user_globals.update(HELPERS)
    current = user_globals.get("answer")
    if type(current) is not _AnswerDict:
        fresh = _AnswerDict(content="", ready=False)
        if isinstance(current, dict):
            dict.update(fresh, current)
            if current.get("ready") and _final_answer is None:
                _capture(current.get("content", ""))
        user_globals["answer"] = fresh
    for kind in _payload_counts:
        if f"{kind}_0" in user_globals:
            user_globals[kind] = user_globals[f"{kind}_0"]


def add_context(kind, index, payload, is_json):
    """Makes a payload (UTF-8 bytes, a JavaScript Uint8Array) `context_<index>` (or `history_<index>`); index 0 is also `context`."""
    try:
        text = payload.to_bytes().decode("utf-8")
        del payload
        value = json.loads(text) if is_json else text
        if index is None:
            index = _payload_counts[kind]
        user_globals[f"{kind}_{index}"] = value
        if index == 0:
            user_globals[kind] = value
        _payload_counts[kind] = max(_payload_counts[kind], index + 1)
        return None
    except BaseException as caught:
        return json.dumps(_describe(caught))


def _cap_string(text, limit=None):
    limit = MAX_STRING if limit is None else limit
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters)"


def _safe_repr(value):
    """repr, capped."""
    return _cap_string(_display.plain_text(value))


def summarize(value, depth=0):
    """A JSON-safe, bounded picture of a value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -SAFE_INT <= value <= SAFE_INT else _safe_repr(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return _cap_string(value)
    if isinstance(value, types.ModuleType):
        return f"<module '{value.__name__}'>"
    if isinstance(value, type):
        return f"<class '{value.__name__}'>"
    if callable(value):
        return f"<function '{getattr(value, '__name__', type(value).__name__)}'>"
    if depth >= MAX_DEPTH:
        return _safe_repr(value)
    if type(value) in (list, tuple):
        items = [summarize(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... ({len(value) - MAX_ITEMS} more items)")
        return items
    if type(value) is dict:
        summary = {}
        for index, (key, item) in enumerate(value.items()):
            if index == MAX_ITEMS:
                summary["..."] = f"({len(value) - MAX_ITEMS} more items)"
                break
            summary[_cap_string(key, MAX_NAME) if isinstance(key, str) else _cap_string(_safe_repr(key), MAX_NAME)] = summarize(item, depth + 1)
        return summary
    return _safe_repr(value)


def _user_names():
    for name, value in user_globals.items():
        if name.startswith("__") and name.endswith("__"):
            continue
        if name in HELPER_NAMES:
            continue
        if name == "answer" and value == _UNTOUCHED_ANSWER:
            continue  # the scaffold's own, until the user writes to it
        yield name, value


def summarize_locals(mode, budget, truncated):
    """The summaries of the session's variables, within `budget` bytes of JSON in all."""
    if mode == "none":
        return None
    summaries = {}
    current = {}
    for name, value in list(_user_names()):
        summary = summarize(value)
        encoded = json.dumps(summary)
        current[name] = encoded
        if mode == "all" or _previous_summaries.get(name) != encoded:
            key = _cap_string(name, MAX_NAME)
            if key != name:
                _note(truncated, "locals_names")
            size = len(json.dumps(key)) + len(encoded) + 2
            if size > budget:
                _note(truncated, "locals")
                continue
            budget -= size
            summaries[key] = summary
    _previous_summaries.clear()
    _previous_summaries.update(current)
    return summaries


def _cut_to_json_size(text, budget):
    """`text`, or a cut of it (noting how much was cut) whose JSON takes at most `budget` bytes."""
    encoded = len(json.dumps(text))
    if encoded <= budget:
        return text
    keep = len(text)
    while keep > 0 and encoded > budget:
        keep = max(0, keep * budget // encoded - 64)
        cut = text[:keep] + f"... ({len(text) - keep} more characters)"
        encoded = len(json.dumps(cut))
    return cut if keep > 0 else f"... ({len(text)} characters)"


def _note(truncated, part):
    if part not in truncated:
        truncated.append(part)


def _cell_filename(count):
    return f"<cell-{count}>"


# A URL in a traceback is a JavaScript frame Pyodide added (the sandbox's own code, under the
# server's install path): neither it nor the path is the user's business. (The scheme's length is
# bounded so that the search stays linear in a long message.)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s\"'<>()]*")


def _internal(filename):
    return filename == "<wasm-repl>" or "://" in filename


def _user_text(text, truncated, part):
    """`text` as a user may see it: capped (noted in `truncated`), with no URL of the sandbox's own."""
    if len(text) > MAX_ERROR:
        text = _cap_string(text, MAX_ERROR)
        if truncated is not None:
            _note(truncated, part)
    return _URL.sub("<internal>", text)


def _user_traceback(error, message, message_cut):
    """The traceback with the frames of this module and of JavaScript left out."""
    summary = traceback.extract_tb(error.__traceback__)
    kept = traceback.StackSummary.from_list([frame for frame in summary if not _internal(frame.filename)])
    lines = ["Traceback (most recent call last):\n", *kept.format()] if kept else []
    if message_cut:  # the last line from the message already capped, not from the whole one
        lines.append(f"{type(error).__name__}: {message}\n")
    else:  # as Python writes it (a SyntaxError's shows the line and a caret)
        lines.extend(traceback.format_exception_only(type(error), error))
    return "".join(lines)


def _describe(error, truncated=None):
    try:
        message = str(error)
    except Exception:  # a user's __str__ may raise anything (an interrupt goes to finish_cell's retry)
        message = f"<{type(error).__name__} (str failed)>"
    if isinstance(error, MemoryError) and not message:
        message = f"out of memory: this session may use at most {_memory_cap_mb} MiB"
    message_cut = len(message) > MAX_ERROR
    message = _user_text(message, truncated, "error.message")
    try:
        text = _user_traceback(error, message, message_cut)
    except Exception:
        text = f"{type(error).__name__}: {message}\n"
    return {
        "type": _cap_string(type(error).__name__, MAX_NAME),
        "message": message,
        "traceback": _user_text(text, truncated, "error.traceback"),
    }


def _execute(code, filename):
    tree = ast.parse(code, filename, "exec")
    trailing = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        trailing = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), user_globals)
    if trailing is not None:
        return eval(compile(trailing, filename, "eval"), user_globals)
    return None


# The cell that ran last, until finish_cell reports it: (value, its MIME bundle, error, started).
_ran = (None, None, None, 0.0)


def run_cell(code, unloaded=None):
    """Runs one cell's code in the session's globals; finish_cell gives its result.

    `unloaded`: why packages the cell needs could not be loaded (the worker loads them before the
    cell); the cell fails with it as an ImportError instead of running.
    """
    global execution_count, _final_answer, _ran
    _final_answer = None
    started = time.perf_counter()
    value = None
    data = None
    error = None
    try:
        execution_count += 1
        filename = _cell_filename(execution_count)
        # Registered so tracebacks show the lines of the cell.
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        if unloaded is not None:
            raise ImportError(unloaded)
        result = _execute(code, filename)
        if result is not None:
            value = _display.plain_text(result)  # uncapped: the result caps it, and notes the cut
            data, _ = _display.bundle(result, plain=value)
    except BaseException as caught:  # the cell's failure is data, whatever it is
        error = caught
    _ran = (value, data, error, started)


def finish_cell(locals_mode, background_cut):
    """The result of the cell run_cell ran, once its background work is over, as a JSON string.

    `background_cut`: its scheduled work was interrupted (the cell's deadline, or an interrupt).
    """
    value, data, error, started = _ran
    if background_cut and error is None:
        error = KeyboardInterrupt("the cell's background work was interrupted")
    elapsed = time.perf_counter() - started
    # An interrupt can land after the user's code ended: the host repeats an interrupt until the
    # cell ends, because Pyodide can miss one that arrives while it clears the previous. So
    # finishing is retried; after the first interrupt without the locals, which run user code
    # (a __repr__) that may be what never ends.
    mode = locals_mode
    while True:
        try:
            return _finish(value, data, error, elapsed, mode)
        except KeyboardInterrupt:
            mode = "none"


def _finish(value, data, error, elapsed, locals_mode):
    _restore_scaffold()
    _flush_streams()
    truncated = []  # which parts of the result were cut to fit the caps
    if value is not None and len(value) > MAX_STRING:
        value = _cap_string(value)
        _note(truncated, "value")
    result = {
        "success": error is None,
        "value": value,
        "execution_count": execution_count,
        "execution_time": elapsed,
        "error": None if error is None else _describe(error, truncated),
        "final_answer": None,
        "truncated": truncated,
    }
    # What is left of the whole result's budget: up to half for the final answer, the rest for the locals.
    budget = MAX_RESULT_BYTES - len(json.dumps(result)) - 256  # room for the `truncated` notes still to come
    if _final_answer is not None:
        result["final_answer"] = _cut_to_json_size(_final_answer, budget // 2)
        if result["final_answer"] is not _final_answer:
            _note(truncated, "final_answer")
        budget -= len(json.dumps(result["final_answer"]))
    result["locals"] = summarize_locals(locals_mode, budget, truncated)
    # Outside the result's budget: the worker bounds the bundle by the output cap.
    result["data"] = data
    return json.dumps(result)


def introspect(request_json):
    """Answers an IntrospectRequest (ipc.ts; introspect.py) about the session's globals, as JSON
    within INTROSPECT_CAPS. Runs no cell: the execution count and the history stay as they are."""
    request = json.loads(request_json)
    try:
        reply = _introspect.answer(request, user_globals)
    except BaseException:  # the session's __dir__ or __getattr__ may raise anything
        reply = _introspect.unanswered(request)
    if reply["kind"] == "complete":
        reply["matches"] = [match for match in reply["matches"] if len(match) <= MAX_MATCH][:MAX_MATCHES]
    elif reply["kind"] == "inspect" and reply["found"]:
        reply["data"]["text/plain"] = _cap_string(reply["data"]["text/plain"], MAX_INSPECT)
    elif reply["kind"] == "is_complete":
        reply["indent"] = reply["indent"][:MAX_INDENT]
    return json.dumps(reply)


def set_environment(encoded):
    """Adds the host's variables (a JSON object of strings, checked there) to os.environ, and so
    to the C environment; returns an error description or None."""
    try:
        os.environ.update(json.loads(encoded))
        return None
    except BaseException as caught:
        return json.dumps(_describe(caught))


def set_vars(encoded):
    """Makes JSON values Python variables; returns an error description or None."""
    try:
        values = json.loads(encoded)
        bad = [name for name in values if not name.isidentifier() or name in HELPER_NAMES]
        if bad:
            raise ValueError(f"not assignable variable names: {', '.join(sorted(bad))}")
        user_globals.update(values)
        return None
    except BaseException as caught:
        return json.dumps(_describe(caught))


_restore_scaffold()
