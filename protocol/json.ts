// The one way untrusted JSON text becomes a value: nesting is bounded before JSON.parse runs.
// JSON.parse is iterative in V8, but what comes after it is not: JSON.stringify, recursive checks,
// error messages that quote the value all overflow the stack on a few thousand nested brackets,
// which a 40 KB frame holds. A scan of the raw text is cheap, total, and cannot overflow.
// No I/O here.

/** Arrays and objects nested deeper than this are refused, in every JSON input. */
export const MAX_JSON_DEPTH = 64;

export type ParsedJson = { ok: true; value: unknown } | { ok: false; message: string };

/**
 * How deeply `text` nests arrays and objects, counting brackets outside strings; stops counting
 * once past `limit` (the answer is then limit + 1). Invalid JSON still gets a depth: JSON.parse
 * refuses it after.
 */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c /* \ */) index++;
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b /* [ */ || char === 0x7b /* { */) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (char === 0x5d /* ] */ || char === 0x7d /* } */) {
      depth--;
    }
  }
  return deepest;
}

/**
 * What is wrong with the nesting of `text`, naming the limit ("nests ..." to follow a subject),
 * or null when it is within MAX_JSON_DEPTH.
 */
export function jsonDepthProblem(text: string): string | null {
  return jsonDepth(text) > MAX_JSON_DEPTH ? `nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)` : null;
}

/**
 * Parses client JSON: its nesting checked first, then JSON.parse. The refusal says which check
 * failed, worded to follow a subject ("the frame " + message).
 */
export function parseJson(text: string): ParsedJson {
  const deep = jsonDepthProblem(text);
  if (deep) return { ok: false, message: deep };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `is not valid JSON (${(error as Error).message.slice(0, 200)})` };
  }
}

/** Text `preview` writes as it is, between the values it describes. */
class Literal {
  constructor(readonly text: string) {}
}

/**
 * A short text of an untrusted value for an error message: at most `max` characters (then "…"),
 * however large or deep the value. JSON.stringify would visit all of it, and recurse.
 */
export function preview(value: unknown, max = 60): string {
  let text = "";
  // Depth-first with an explicit stack of values still to describe and literals still to write;
  // a value pushes at most `max` children, and every step writes a character, so it is bounded.
  const stack: unknown[] = [value];
  while (stack.length > 0 && text.length <= max) {
    const item = stack.pop();
    if (item instanceof Literal) text += item.text;
    else if (typeof item === "string") text += JSON.stringify(item.slice(0, max));
    else if (Array.isArray(item)) {
      stack.push(new Literal("]"));
      for (let index = Math.min(item.length, max) - 1; index >= 0; index--) stack.push(item[index], ...(index > 0 ? [new Literal(",")] : []));
      text += "[";
    } else if (typeof item === "object" && item !== null) {
      const keys = Object.keys(item).slice(0, max);
      stack.push(new Literal("}"));
      for (let index = keys.length - 1; index >= 0; index--) {
        stack.push((item as Record<string, unknown>)[keys[index]!], new Literal(`${index > 0 ? "," : ""}${JSON.stringify(keys[index]!.slice(0, max))}:`));
      }
      text += "{";
    } else text += String(item);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
