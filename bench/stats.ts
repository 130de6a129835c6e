// Small statistics and printing helpers shared by the benchmarks.
// Benchmarks on a shared machine are noisy, so every figure is a median with its spread beside it
// rather than a mean: one slow outlier (a GC pause, a scheduler hiccup) must not move the headline.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
}

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new RangeError("no values to summarize");
  return [...values].sort((a, b) => a - b);
}

/** Percentile p (0–100) of values already sorted ascending, interpolating between neighbours. */
function percentileOfSorted(ascending: readonly number[], p: number): number {
  const rank = (p / 100) * (ascending.length - 1);
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  const low = ascending[below]!;
  return low + (ascending[above]! - low) * (rank - below);
}

/** Percentile p (0–100) of values, interpolating between neighbours (the "R-7" / NumPy default). */
export function percentile(values: readonly number[], p: number): number {
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0–100`);
  return percentileOfSorted(sorted(values), p);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The arithmetic mean: for totals divided by a count (memory per session), not for latencies. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("no values to average");
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

export function summarize(values: readonly number[]): Summary {
  const ascending = sorted(values);
  return {
    n: ascending.length,
    median: percentileOfSorted(ascending, 50),
    min: ascending[0]!,
    max: ascending[ascending.length - 1]!,
    p25: percentileOfSorted(ascending, 25),
    p75: percentileOfSorted(ascending, 75),
  };
}

/** A number with a fixed count of decimals; large values lose their decimals, which would only be noise. */
export function formatNumber(value: number, decimals = 1): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toFixed(Math.abs(value) >= 1000 ? 0 : decimals);
}

/** "min–max": with the handful of runs a slow benchmark affords, the full range hides nothing. */
export function formatRange(summary: Summary, decimals = 1): string {
  return `${formatNumber(summary.min, decimals)}–${formatNumber(summary.max, decimals)}`;
}

/** "p25–p75": for many samples, where the extremes are mostly noise. */
export function formatIqr(summary: Summary, decimals = 1): string {
  return `${formatNumber(summary.p25, decimals)}–${formatNumber(summary.p75, decimals)}`;
}

/** Rounds a summary for machine-readable output, so a JSON line is not full of float noise. */
export function roundSummary(summary: Summary, decimals = 2): Summary {
  const round = (value: number) => Number(value.toFixed(decimals));
  return {
    n: summary.n,
    median: round(summary.median),
    min: round(summary.min),
    max: round(summary.max),
    p25: round(summary.p25),
    p75: round(summary.p75),
  };
}

/** The same for a figure's extra values, which may be absent. */
export function roundValues(values: Record<string, number> | undefined, decimals = 2): Record<string, number> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([key, value]) => [key, Number(value.toFixed(decimals))]));
}

export type Align = "left" | "right";

export interface Column {
  title: string;
  align?: Align;
}

/** One row, each cell padded to its column's width; numbers read best right-aligned. */
export function formatRow(cells: readonly string[], widths: readonly number[], aligns: readonly Align[] = []): string {
  return cells
    .map((cell, index) => {
      const width = widths[index] ?? cell.length;
      return aligns[index] === "right" ? cell.padStart(width) : cell.padEnd(width);
    })
    .join("  ")
    .trimEnd();
}

/** A whole table: a header, a rule, and the rows, with columns as wide as their widest cell. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const titles = columns.map((column) => column.title);
  const aligns = columns.map((column) => column.align ?? "left");
  const widths = titles.map((title, index) => Math.max(title.length, ...rows.map((row) => (row[index] ?? "").length)));
  const rule = widths.map((width) => "-".repeat(width));
  return [formatRow(titles, widths), formatRow(rule, widths), ...rows.map((row) => formatRow(row, widths, aligns))].join("\n");
}

/**
 * Whether a figure meets its target, as a table cell: an upper bound by default (latency, memory),
 * a lower bound when higher is better (throughput).
 */
export function verdict(value: number, target: number, better: "lower" | "higher" = "lower"): "ok" | "MISSED" {
  return (better === "lower" ? value <= target : value >= target) ? "ok" : "MISSED";
}
