// A few composable checks for untrusted JSON. A check returns null when the value fits, or what
// it should have been ("must be ..."), so every refusal can name the field and the expectation.
import { preview } from "./json.ts";

export type Check = (value: unknown) => string | null;

export const string: Check = (value) => (typeof value === "string" ? null : "must be a string");

/** Any JSON value, as long as the field is there. */
export const present: Check = (value) => (value === undefined ? "is required" : null);

export const boolean: Check = (value) => (typeof value === "boolean" ? null : "must be true or false");

export const number: Check = (value) => (typeof value === "number" && Number.isFinite(value) ? null : "must be a number");

export const count: Check = (value) => (Number.isSafeInteger(value) && (value as number) >= 0 ? null : "must be a whole number");

export const positive: Check = (value) =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? null : "must be a positive number";

export const jsonObject: Check = (value) =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? null : "must be a JSON object";

/** An array of at most `max` items, each fitting `item`. */
export function listOf(item: Check, max: number): Check {
  return (value) => {
    if (!Array.isArray(value) || value.length > max) return `must be a list of at most ${max} items`;
    const index = value.findIndex((element) => item(element) !== null);
    return index === -1 ? null : `has an item ${index} that ${item(value[index])}`;
  };
}

export function boundedString(min: number, max: number): Check {
  return (value) =>
    typeof value === "string" && value.length >= min && value.length <= max
      ? null
      : `must be a string of ${min} to ${max} characters`;
}

export function oneOf(allowed: readonly string[]): Check {
  return (value) => (allowed.includes(value as string) ? null : `must be one of ${allowed.map((item) => `"${item}"`).join(", ")}`);
}

export function optional(check: Check): Check {
  return (value) => (value === undefined ? null : check(value));
}

export function nullable(check: Check): Check {
  return (value) => (value === null ? null : check(value));
}

/** An object with exactly these fields (unknown fields are refused too). */
export function shape(fields: Record<string, Check>): Check {
  return (value) => {
    if (jsonObject(value)) return jsonObject(value);
    const problem = fieldProblem(value as Record<string, unknown>, fields);
    return problem && `has a field that ${problem}`;
  };
}

/**
 * The first field of `value` that does not fit `fields`, described as "<name> <problem>; got ...",
 * or an unknown field; null when all fit.
 */
export function fieldProblem(value: Record<string, unknown>, fields: Record<string, Check>, ignore: readonly string[] = []): string | null {
  for (const [name, check] of Object.entries(fields)) {
    const problem = check(value[name]);
    if (problem) {
      const got = value[name] === undefined ? "it is missing" : `got ${preview(value[name])}`;
      return `${name} ${problem}; ${got}`;
    }
  }
  const unknown = Object.keys(value).filter((name) => !ignore.includes(name) && !Object.hasOwn(fields, name));
  if (unknown.length > 0) return `${unknown.join(", ")} ${unknown.length > 1 ? "are unknown fields" : "is an unknown field"}`;
  return null;
}
