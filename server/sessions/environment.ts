// The environment variables a session is opened with: os.environ in its interpreter, and nothing
// of the server's own. Bounded, so that a session's record and every fresh sandbox carry little,
// and named as POSIX shells name them, so that every program reading them agrees.

export type Environment = Readonly<Record<string, string>>;

export const ENV_LIMITS = { variables: 100, nameChars: 128, totalChars: 64 * 1024 } as const;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What is wrong with `value` as a session's environment (a JSON object of strings), or null. */
export function environmentProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "env must be an object of variable names to string values";
  const entries = Object.entries(value);
  if (entries.length > ENV_LIMITS.variables) return `env has ${entries.length} variables, more than ${ENV_LIMITS.variables}`;
  let total = 0;
  for (const [name, text] of entries) {
    if (name.length > ENV_LIMITS.nameChars || !NAME.test(name)) return `env: ${JSON.stringify(name.slice(0, 60))} is not a variable name (letters, digits and _, not starting with a digit, at most ${ENV_LIMITS.nameChars} characters)`;
    if (typeof text !== "string") return `env: ${name} must be a string`;
    if (text.includes("\0")) return `env: ${name} holds a NUL character, which no environment can`;
    total += name.length + text.length;
  }
  if (total > ENV_LIMITS.totalChars) return `env takes ${total} characters in names and values, more than ${ENV_LIMITS.totalChars}`;
  return null;
}
