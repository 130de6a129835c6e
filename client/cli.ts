// The `wasm-repl` command line. `wasm-repl repl [URL]` is a Python REPL whose interpreter lives in
// a session on a wasm-repl server. bin.mjs runs main(); commands are added to COMMANDS.
import { clearLine, createInterface, cursorTo, type Interface } from "node:readline";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { ResultFrame } from "../protocol/index.ts";
import { DEFAULT_URL, isParseArgsError, serverUrl, tokenFrom, UsageError, type Command } from "./cli-common.ts";
import { WasmReplError } from "./errors.ts";
import { filesCommand, FILES_SYNOPSIS } from "./files-cli.ts";
import { runRlm } from "../rlm/driver.ts";
import { openAIChatModel } from "../rlm/model.ts";
import { sessionRepl } from "./rlm/session-repl.ts";
import { ReplSession } from "./session.ts";

const PS1 = ">>> ";
const PS2 = "... ";

/** Runs the command line `argv` (without node and the script) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h") {
    (name ? process.stdout : process.stderr).write(mainUsage());
    return name ? 0 : 2;
  }
  const command = COMMANDS.get(name);
  try {
    if (!command) throw new UsageError(`unknown command "${name}"; the commands are ${[...COMMANDS.keys()].join(", ")}`);
    return await command.run(args);
  } catch (error) {
    if (error instanceof WasmReplError) {
      process.stderr.write(`error [${error.code}]: ${error.message}\n`);
      return 1;
    }
    if (error instanceof UsageError || isParseArgsError(error)) {
      const help = command ? `wasm-repl ${name} --help` : "wasm-repl --help";
      process.stderr.write(`error: ${error.message}\n(see \`${help}\`)\n`);
      return 2;
    }
    throw error;
  }
}

function mainUsage(): string {
  const commands = [...COMMANDS].map(([name, command]) => `  wasm-repl ${name} ${command.synopsis}\n      ${command.summary}\n`);
  return `usage:\n${commands.join("")}\nRun \`wasm-repl COMMAND --help\` for a command's options.\n`;
}

// ---- wasm-repl repl ----

const REPL_SYNOPSIS = "[URL] [--token TOKEN] [--session ID] [--env NAME=VALUE]... [--keep]";
const REPL_USAGE = `usage: wasm-repl repl ${REPL_SYNOPSIS}

An interactive Python session on a wasm-repl server.

  URL            the server (default ${DEFAULT_URL})
  --token TOKEN  the JWT to connect with (default: the WASM_REPL_TOKEN environment variable);
                 a development server (\`npm start\` without JWT_SECRET) prints one on its
                 \`token:\` line
  --session ID   attach to an existing session of yours instead of opening a new one
  --env NAME=VALUE
                 an environment variable of the new session's Python (os.environ); repeatable
  --keep         leave the session running on exit, to attach to it again with --session
  -h, --help     show this help

Ctrl-C interrupts a running cell, or clears the line at the prompt; Ctrl-D, or Ctrl-C on an
empty line twice, exits.
`;

async function replCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      token: { type: "string" },
      session: { type: "string" },
      env: { type: "string", multiple: true, default: [] },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(REPL_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`expected at most one URL; got ${positionals.join(" ")}`);
  const url = serverUrl(positionals[0] ?? DEFAULT_URL);
  const token = tokenFrom(values.token);
  if (values.session && values.env.length > 0) throw new UsageError("--env is given when a session opens; the session of --session has its own");
  const env = Object.fromEntries(values.env.map(variable));
  const session = values.session ? await ReplSession.attach(url, values.session, { token }) : await ReplSession.open(url, { token, ...(values.env.length > 0 && { env }) });
  return new Repl(session, url, values.keep).run();
}

/** NAME=VALUE as a pair (the value may hold "=" too). */
function variable(text: string): [string, string] {
  const equals = text.indexOf("=");
  if (equals <= 0) throw new UsageError(`--env expects NAME=VALUE; got ${JSON.stringify(text)}`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}

/** The read-eval-print loop over one session, reading lines from stdin (a terminal or a pipe). */
class Repl {
  private readonly rl: Interface;
  /** The lines of a statement that is not finished yet. */
  private block: string[] = [];
  private running = false;
  private inputClosed = false;
  /** Ctrl-C was pressed at an empty prompt: pressing it again exits. */
  private exitArmed = false;
  /** Why the session ended under us (evicted, or reconnecting failed). */
  private lost: WasmReplError | null = null;

  constructor(
    private readonly session: ReplSession,
    private readonly url: string,
    private readonly keep: boolean,
  ) {
    const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
    // Prompts go to stderr, as Python's do, so that stdout carries only what the cells print.
    // Without a terminal there is no output at all: piped input gets no prompts.
    this.rl = createInterface({ input: process.stdin, output: interactive ? process.stderr : undefined, terminal: interactive });
    this.rl.once("close", () => {
      this.inputClosed = true;
    });
  }

  async run(): Promise<number> {
    const onClosed = (error: WasmReplError | null) => {
      this.lost = error;
      this.rl.close();
    };
    const onReconnecting = (attempt: number) => this.note(`reconnecting... (attempt ${attempt})`);
    const onReconnected = () => this.note("reconnected");
    this.session.on("closed", onClosed).on("reconnecting", onReconnecting).on("reconnected", onReconnected);
    // A terminal in raw mode turns Ctrl-C into readline's SIGINT; otherwise it is a real signal.
    this.rl.on("SIGINT", this.onInterrupt);
    process.on("SIGINT", this.onInterrupt);
    process.stderr.write(`wasm-repl session ${this.session.id} on ${this.url}\n`);
    process.stderr.write(`Ctrl-C interrupts a running cell; Ctrl-D exits and ${this.keep ? "keeps" : "closes"} the session.\n`);
    try {
      await this.readEvalPrint();
    } finally {
      process.off("SIGINT", this.onInterrupt);
      this.session.off("closed", onClosed).off("reconnecting", onReconnecting).off("reconnected", onReconnected);
      this.rl.close();
      // The loop ends at a prompt (Ctrl-D, Ctrl-C, or the session lost): what follows needs a line of its own.
      if (this.rl.terminal) process.stderr.write("\n");
    }
    if (this.lost) throw this.lost;
    await this.leave();
    return 0;
  }

  private async readEvalPrint(): Promise<void> {
    this.prompt();
    for await (const line of this.rl) {
      this.exitArmed = false;
      this.block.push(line);
      const source = this.block.join("\n");
      if (!needsMoreInput(source)) {
        this.block = [];
        await this.runCell(source);
      }
      this.prompt();
    }
    // Input ended inside a block (a piped script without its final blank line): run what there is.
    await this.runCell(this.block.join("\n"));
  }

  private prompt(): void {
    this.rl.setPrompt(this.block.length > 0 ? PS2 : PS1);
    this.rl.prompt();
  }

  private async runCell(code: string): Promise<void> {
    if (code.trim() === "") return;
    this.running = true;
    try {
      const result = await this.session.execute(code, {
        // The REPL shows no variables, so the server need not summarize them.
        locals: "none",
        onStdout: (text) => process.stdout.write(text),
        onStderr: (text) => process.stderr.write(text),
      });
      printResult(result);
    } catch (error) {
      // A refused cell (sandbox_failed, busy) leaves the session usable; a lost one ends the loop.
      if (!(error instanceof WasmReplError) || this.lost) throw error;
      process.stderr.write(`error [${error.code}]: ${error.message}\n`);
    } finally {
      this.running = false;
    }
  }

  /** Ctrl-C: interrupts the running cell; at the prompt, drops what was typed, or exits if nothing was. */
  private readonly onInterrupt = (): void => {
    if (this.running) {
      this.session.interrupt();
      return;
    }
    const discarded = this.discardInput();
    if (!discarded && this.exitArmed) {
      this.rl.close();
      return;
    }
    this.exitArmed = !discarded;
    if (this.exitArmed) process.stderr.write("(to exit, press Ctrl-C again or Ctrl-D)\n");
    this.prompt();
  };

  /** Forgets the line being typed and any unfinished block; says whether there was anything. */
  private discardInput(): boolean {
    const typed = this.rl.line;
    const discarded = typed !== "" || this.block.length > 0;
    this.block = [];
    if (this.rl.terminal) {
      // readline has no public way to drop its line but the keys that delete it (which also erase
      // it from the screen); it is written back so that it stays visible, as in a shell.
      this.rl.write(null, { ctrl: true, name: "e" });
      this.rl.write(null, { ctrl: true, name: "u" });
      process.stderr.write(`${typed}\n`);
    }
    return discarded;
  }

  /** A message of the CLI's own on stderr; a prompt on screen is drawn again below it. */
  private note(text: string): void {
    const atPrompt = this.rl.terminal && !this.running && !this.inputClosed;
    if (atPrompt) {
      clearLine(process.stderr, 0);
      cursorTo(process.stderr, 0);
    }
    process.stderr.write(`${text}\n`);
    if (atPrompt) this.rl.prompt(true);
  }

  private async leave(): Promise<void> {
    if (!this.keep) return this.session.close();
    this.session.disconnect();
    process.stderr.write(`session ${this.session.id} kept; attach to it again with: wasm-repl repl ${this.url} --session ${this.session.id}\n`);
  }
}

function printResult(result: ResultFrame): void {
  if (result.value !== null) process.stdout.write(`${result.value}\n`);
  if (result.error) {
    const { traceback, type, message } = result.error;
    process.stderr.write(withNewline(traceback || `${type}: ${message}`));
  }
  if (result.output_dropped_bytes > 0) {
    process.stderr.write(`note: ${result.output_dropped_bytes} bytes of output were dropped (over the server's MAX_OUTPUT_BYTES)\n`);
  }
  if (!result.state_preserved) {
    process.stderr.write("note: the interpreter restarted; the session goes on in a fresh one, without the variables, imports and functions of earlier cells\n");
  }
}

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/**
 * Whether `source`, the lines typed so far joined by "\n", is an unfinished statement: Python's
 * REPL would show `... ` and read another line. That is so inside brackets or a triple-quoted
 * string, after a trailing backslash, and in a compound statement (`def f():`, `if x: y`, a
 * decorator) until a blank line ends it, since nothing else says where its body stops.
 */
export function needsMoreInput(source: string): boolean {
  const { depth, quote, last, compound } = scanPython(source);
  if (depth > 0 || quote?.length === 3 || last === "\\") return true;
  const lastLine = source.slice(source.lastIndexOf("\n") + 1);
  return compound && lastLine.trim() !== "";
}

interface ScanState {
  /** How many brackets are open. */
  depth: number;
  /** The delimiter of the string still open at the end, if any. */
  quote: string | null;
  /** The last character of the current line, leaving out blanks, comments and what strings hold. */
  last: string;
  /** A compound statement started: a line began with its keyword or a decorator, or ended with `:`. */
  compound: boolean;
}

/** Keywords that open a compound statement (one-liners such as `if x: y` included, as in Python's REPL). */
const COMPOUND_START = /(?:if|while|for|try|with|def|class|async)\b|@/y;

/** Just enough of Python's tokenizer to see brackets, strings, comments and line ends. */
function scanPython(source: string): ScanState {
  const state: ScanState = { depth: 0, quote: null, last: "", compound: false };
  const noteCompound = () => {
    if (state.depth === 0 && state.last === ":") state.compound = true;
  };
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (state.quote !== null) {
      if (char === "\\") i++; // whatever follows, a quote or a newline, is part of the string
      else if (source.startsWith(state.quote, i)) {
        i += state.quote.length - 1;
        state.quote = null;
      } else if (char === "\n" && state.quote.length === 1) state.quote = null; // unterminated: Python will say so
      continue;
    }
    if (char === "#") {
      const newline = source.indexOf("\n", i);
      i = (newline === -1 ? source.length : newline) - 1;
    } else if (char === '"' || char === "'") {
      state.quote = source.startsWith(char.repeat(3), i) ? char.repeat(3) : char;
      i += state.quote.length - 1;
      state.last = char;
    } else if (char === "\n") {
      noteCompound();
      state.last = "";
    } else if (char.trim() !== "") {
      COMPOUND_START.lastIndex = i;
      if (state.last === "" && state.depth === 0 && COMPOUND_START.test(source)) state.compound = true;
      if ("([{".includes(char)) state.depth++;
      else if (")]}".includes(char)) state.depth = Math.max(0, state.depth - 1);
      state.last = char;
    }
  }
  noteCompound();
  return state;
}

// ---- wasm-repl rlm ----

const RLM_SYNOPSIS = "[URL] --context FILE [--token TOKEN] [--model NAME] [--max-iterations N] [--json] QUESTION";
const RLM_USAGE = `usage: wasm-repl rlm ${RLM_SYNOPSIS}

Answers QUESTION about FILE with a recursive language model: the root model writes Python that a
wasm-repl session runs; that code reads the file (as \`context\`) and calls sub-models with
llm_query through the server.

  URL                 the server (default ${DEFAULT_URL})
  --context FILE      the context: text, or JSON when the name ends in .json
  --token TOKEN       the JWT to connect with (default: WASM_REPL_TOKEN)
  --model NAME        the root model (default: LLM_MODEL, else gpt-5-mini)
  --max-iterations N  model turns before a final answer is asked for (default 30)
  --json              print the answer, every iteration and the usage as JSON
  -h, --help          show this help

The root model is called from here: LLM_BASE_URL (default https://api.openai.com/v1) with the key
in LLM_API_KEY or OPENAI_API_KEY. Sub-model calls use the server's own key.
`;

async function rlmCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      context: { type: "string" },
      token: { type: "string" },
      model: { type: "string" },
      "max-iterations": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(RLM_USAGE);
    return 0;
  }
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError("expected the question, optionally after the server's URL");
  const question = positionals.at(-1)!;
  const url = serverUrl(positionals.length === 2 ? positionals[0]! : DEFAULT_URL);
  if (!values.context) throw new UsageError("--context FILE is required");
  const maxIterations = Number(values["max-iterations"] ?? 30);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new UsageError(`--max-iterations must be a whole number of at least 1; got ${values["max-iterations"]}`);
  const token = tokenFrom(values.token);
  const apiKey = process.env.LLM_API_KEY ?? process.env.OPENAI_API_KEY;
  if (!apiKey) throw new UsageError("no key for the root model: set LLM_API_KEY or OPENAI_API_KEY");
  const text = await readFile(values.context, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --context ${values.context}: ${error.code ?? error.message}`);
  });
  const context: unknown = values.context.endsWith(".json") ? JSON.parse(text) : text;
  const session = await ReplSession.open(url, { token });
  try {
    const run = await runRlm({
      repl: sessionRepl(session),
      model: openAIChatModel({ apiKey, baseUrl: process.env.LLM_BASE_URL ?? "https://api.openai.com/v1", timeoutMs: 300_000 }),
      modelName: values.model ?? process.env.LLM_MODEL ?? "gpt-5-mini",
      context,
      question,
      maxIterations,
      onIteration: (iteration) => {
        if (!values.json) process.stderr.write(`[iteration: ${iteration.blocks.length} repl block(s)${iteration.finalAnswer !== null ? ", final answer" : ""}]\n`);
      },
    });
    process.stdout.write(values.json ? `${JSON.stringify(run, null, 2)}\n` : `${run.answer}\n`);
    return 0;
  } finally {
    await session.close();
  }
}

const COMMANDS = new Map<string, Command>([
  ["repl", { synopsis: REPL_SYNOPSIS, summary: "an interactive Python session", run: replCommand }],
  ["rlm", { synopsis: RLM_SYNOPSIS, summary: "answer a question about a file with a recursive language model", run: rlmCommand }],
  ["files", { synopsis: FILES_SYNOPSIS, summary: "list, upload, download or delete the files of a session", run: filesCommand }],
]);
