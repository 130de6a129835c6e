// The newest part of a child process's output, kept as it arrives, that can be waited on for a
// line. Shared by the cluster tests' pods and the benchmarks' servers.

export class OutputTail {
  private text = "";
  private listeners: Array<() => void> = [];

  constructor(
    /** Named in failures: "pod-a", "wasm-repl", ... */
    private readonly name: string,
    private readonly maxChars: number,
    /** Whether the process still runs: waiting stops when it does not. */
    private readonly alive: () => boolean,
  ) {}

  get value(): string {
    return this.text;
  }

  append(text: string): void {
    this.text = (this.text + text).slice(-this.maxChars);
    for (const listener of this.listeners) listener();
  }

  clear(): void {
    this.text = "";
  }

  /** The first match of pattern in the output, waiting for it up to timeoutMs; `exited` ends the wait early. */
  waitFor(pattern: RegExp, timeoutMs: number, exited: Promise<unknown>): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.text);
        if (match) return done(() => resolve(match));
        if (!this.alive()) return done(() => reject(this.failure(`exited before printing ${pattern}`)));
      };
      const timer = setTimeout(() => done(() => reject(this.failure(`printed no ${pattern} within ${timeoutMs} ms`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
        settle();
      };
      this.listeners.push(check);
      // Output still in the pipes arrives just after the exit.
      void exited.then(() => setImmediate(check));
      check();
    });
  }

  failure(what: string): Error {
    return new Error(`${this.name} ${what}; the end of its output:\n${this.text.slice(-3000)}`);
  }
}
