// The main workload's figures of this tree beside those of an earlier commit, from one run, so
// that a refactor can show it costs nothing. Both servers are driven by this tree's bench code and
// SDK, so only the server differs, and both get the environment the bench always gives: an older
// commit then starts as it always did, whatever settings were added since.
import { withBaseline } from "./baseline.ts";
import { loadFields, loadLine, underLoad } from "./load.ts";
import { formatNumber, formatRange, formatTable, roundSummary, roundValues } from "./stats.ts";
import { REPO_ROOT } from "./wasm-repl.ts";
import type { Figure } from "./workload.ts";

/** Runs the workload on the server of the checkout at `root`; `name` is for progress lines. */
export type MeasureTree = (root: string, name: string) => Promise<Figure[]>;

export interface Comparison {
  /** The baseline as the user named it: a commit, a branch, HEAD~1. */
  ref: string;
  /** How the servers run and are driven, for the report's first line. */
  setup: string;
  measureTree: MeasureTree;
}

interface Pair {
  now: Figure;
  before: Figure;
}

/** Pairs the figures by key: the same workload code ran on both servers, so each has its partner. */
function pairs(now: Figure[], before: Figure[]): Pair[] {
  return now.map((figure) => {
    const partner = before.find((candidate) => candidate.key === figure.key);
    if (!partner) throw new Error(`the baseline's run yielded no figure ${figure.key}`);
    return { now: figure, before: partner };
  });
}

function changeText({ now, before }: Pair): string {
  const change = (now.summary.median / before.summary.median - 1) * 100;
  return `${change < 0 ? "−" : "+"}${formatNumber(Math.abs(change), 1)}%`;
}

/**
 * Whether a difference stands out of the noise: only when the two spreads do not overlap does it
 * read as better or worse. A figure measured once has no spread to tell noise by, so it is not read.
 */
function reading({ now, before }: Pair): string {
  if (now.summary.n < 2 || before.summary.n < 2) return "";
  if (now.summary.min <= before.summary.max && before.summary.min <= now.summary.max) return "within spread";
  const lower = now.summary.median < before.summary.median;
  return lower === (now.better === "lower") ? "better" : "WORSE";
}

function printTable(rows: Pair[], commit: string): void {
  const right = "right" as const;
  const columns = [
    { title: "measure" },
    { title: "unit" },
    { title: "now", align: right },
    { title: "spread", align: right },
    { title: "n", align: right },
    { title: `before (${commit})`, align: right },
    { title: "spread", align: right },
    { title: "n", align: right },
    { title: "change", align: right },
    { title: "reading" },
  ];
  const cells = rows.map((pair) => {
    const { now, before } = pair;
    const { decimals } = now;
    return [
      now.label,
      now.unit,
      formatNumber(now.summary.median, decimals),
      formatRange(now.summary, decimals),
      String(now.summary.n),
      formatNumber(before.summary.median, decimals),
      formatRange(before.summary, decimals),
      String(before.summary.n),
      changeText(pair),
      reading(pair),
    ];
  });
  console.log(formatTable(columns, cells));
}

function figuresJson(figures: Figure[]): Record<string, unknown> {
  return Object.fromEntries(figures.map((figure) => [figure.key, { unit: figure.unit, ...roundSummary(figure.summary), ...roundValues(figure.extra) }]));
}

/**
 * Runs the workload on this tree's server, then on the baseline's, and prints them side by side.
 * The baseline is checked out first, so that a ref that names nothing fails before minutes of
 * measuring; the checkout is over (and quiet) before either server starts.
 */
export async function runComparison({ ref, setup, measureTree }: Comparison): Promise<void> {
  const { result, load } = await underLoad(() =>
    withBaseline(ref, async ({ root, commit }) => {
      const now = await measureTree(REPO_ROOT, "this tree");
      return { commit, now, before: await measureTree(root, `baseline ${ref} (${commit})`) };
    }),
  );
  const { commit, now, before } = result;
  console.log(`\nwasm-repl end-to-end benchmark, this tree against ${ref} (${commit}), one after the other: ${setup}`);
  console.log(loadLine(load));
  console.log("");
  printTable(pairs(now, before), commit);
  console.log("");
  console.log("spread: min–max over the runs (n); for cell round trips, of the p50 or p99 of each batch.");
  console.log("change: now's median against before's. reading: \"within spread\" when the two spreads overlap; a figure measured once (n 1) is not read.");
  console.log("");
  console.log(JSON.stringify({ bench: "compare", baseline: ref, commit, ...loadFields(load), now: figuresJson(now), before: figuresJson(before) }));
}
