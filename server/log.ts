// Structured logs: one JSON object per line. Output and tokens never go in here; code only with
// LOG_CODE=true (see codeFields).

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

export function createLogger(level: LogLevel, sink: LogSink = (line) => process.stdout.write(line + "\n"), base: LogFields = {}): Logger {
  const emit = (at: LogLevel) => (event: string, fields?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    sink(JSON.stringify({ level: at, time: new Date().toISOString(), event, ...base, ...fields }));
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (fields) => createLogger(level, sink, { ...base, ...fields }),
  };
}

/** Code logged with LOG_CODE=true is cut to this many bytes. */
export const LOGGED_CODE_BYTES = 4096;

/** Log fields for a cell's code: none unless LOG_CODE=true, then the code, cut to 4 KiB. */
export function codeFields(code: string, logCode: boolean): LogFields {
  if (!logCode) return {};
  if (Buffer.byteLength(code) <= LOGGED_CODE_BYTES) return { code };
  // Cut on a character boundary: a split UTF-8 sequence decodes to U+FFFD, dropped here.
  const cut = Buffer.from(code).subarray(0, LOGGED_CODE_BYTES).toString("utf8").replace(/\uFFFD+$/, "");
  return { code: cut, code_truncated: true };
}

/** For tests and tools that want no log output. */
export const silentLogger: Logger = createLogger("error", () => {});
