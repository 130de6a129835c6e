// Reading configuration variables. The server's configuration (config.ts) and the store's
// (store/config.ts) read through one reader, so a misconfigured server reports every problem of
// both at once.
import { readFileSync } from "node:fs";

export type Env = Record<string, string | undefined>;

/** Reads variables, collecting every problem instead of stopping at the first. */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const raw = this.env[name];
    return raw === undefined || raw === "" ? fallback : raw;
  }

  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  /** A positive number of seconds; fractions allowed. */
  seconds(name: string, fallback: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected a positive number of seconds`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    this.problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return fallback;
  }

  /** Comma-separated names, trimmed; empty ones dropped. */
  list(name: string): string[] {
    return [...new Set(this.string(name, "").split(",").map((item) => item.trim()).filter(Boolean))];
  }

  /** An http(s) URL. */
  url(name: string, fallback: string): string {
    const raw = this.string(name, fallback);
    let parsed: URL | null = null;
    try {
      parsed = new URL(raw);
    } catch {
      // reported below
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:") || parsed.host === "") {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected an http(s) URL such as ${fallback}`);
      return fallback;
    }
    return raw;
  }

  /** The contents of the file a variable names (a mounted secret), trimmed; null when unset. Never reports the contents. */
  fileContents(name: string): string | null {
    const path = this.string(name, "");
    if (!path) return null;
    let text: string;
    try {
      text = readFileSync(path, "utf8").trim();
    } catch (error) {
      this.problems.push(`${name}=${JSON.stringify(path)}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      return null;
    }
    if (!text) this.problems.push(`${name}=${JSON.stringify(path)}: the file is empty`);
    return text || null;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(", ")}`);
      return fallback;
    }
    return raw as T;
  }
}
