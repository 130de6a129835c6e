// The soak's report: for each fault, what the clients asked and got (results, errors by code,
// requests that got no answer at all), cells that ran twice, sessions lost and whether each was
// allowed to be, the counters read after it, cell round trips before, during and after it, and
// how long until every client was served again; then whether any sampled figure of the servers
// grows without bound. The checks that must hold are named in `failures`: none, and it passes.
import { formatNumber, formatTable, percentile } from "../stats.ts";
import type { CheckRecord, Finding, RequestRecord } from "./records.ts";
import { trends, type Sample, type Trend } from "./samples.ts";

export interface FaultWindow {
  index: number;
  name: string;
  description: string;
  startAt: number;
  injectedAt: number;
  clearedAt: number;
  endAt: number;
  notes: string[];
  /** A SIGKILL's: the sessions the killed pod held without a checkpoint, which it may lose. */
  mayLose: string[];
}

export interface SoakData {
  /** The setup line: pods, clients, lengths. */
  setup: string;
  /** The machine's load (uptime's averages, other processes' CPU). */
  machine: string;
  /** The initial opens, before the first window. */
  startAt: number;
  windows: FaultWindow[];
  requests: RequestRecord[];
  findings: Finding[];
  checks: CheckRecord[];
  samples: Sample[];
}

interface Latency {
  n: number;
  p50: number;
  p99: number;
}

export interface FaultReport {
  window: FaultWindow;
  sent: number;
  results: number;
  errors: Record<string, number>;
  /** The first error of each code: client, kind and message. */
  errorExamples: Record<string, string>;
  unanswered: RequestRecord[];
  ranTwice: Finding[];
  counterLost: Finding[];
  /** Lost work the server owned up to: restored from a checkpoint, an interpreter replaced. */
  toldResets: number;
  restored: number;
  streamMismatches: Finding[];
  wrongValues: Finding[];
  lost: Array<{ session: string; allowed: boolean; detail: string }>;
  checks: { ok: number; wrong: number; unanswered: number };
  latency: { before: Latency | null; during: Latency | null; after: Latency | null };
  /** From the fault's end until every client had a request answered again; null when one never was within the window. */
  servedAgainMs: number | null;
  /** Clients that got no answer after the fault ended, within the window. */
  unserved: number;
  failures: string[];
}

export interface SoakReport {
  faults: FaultReport[];
  /** Every request of the run, the initial opens included. */
  totals: { sent: number; results: number; errors: Record<string, number>; unanswered: RequestRecord[] };
  trends: Trend[];
  failures: string[];
}

/** Cells whose round trip is the latency figure: the short ones (a stream's or a timeout's length is its own). */
const TIMED_KINDS = new Set(["cell", "check"]);
const ALWAYS_FAILS = ["ran_twice", "counter_lost", "stream_mismatch", "wrong_value"] as const;

export function buildReport(data: SoakData): SoakReport {
  const faults = data.windows.map((window) => faultReport(window, data));
  const answered = (request: RequestRecord) => request.endedAt !== null;
  const totals = {
    sent: data.requests.length,
    results: data.requests.filter((request) => answered(request) && request.code === null).length,
    errors: countCodes(data.requests),
    unanswered: data.requests.filter((request) => !answered(request)),
  };
  const found = trends(data.samples);
  const failures = [
    ...faults.flatMap((fault) => fault.failures.map((failure) => `${fault.window.name}: ${failure}`)),
    ...(totals.unanswered.length > 0 ? [`${totals.unanswered.length} requests of the whole run got no answer`] : []),
    ...found.filter((trend) => trend.grows).map((trend) => `${trend.series} grows: ${formatNumber(trend.perHour, 1)} ${trend.unit} an hour`),
  ];
  return { faults, totals, trends: found, failures: [...new Set(failures)] };
}

function countCodes(requests: readonly RequestRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of requests) if (request.code !== null) counts[request.code] = (counts[request.code] ?? 0) + 1;
  return counts;
}

function faultReport(window: FaultWindow, data: SoakData): FaultReport {
  const inWindow = <T>(at: (item: T) => number) => (item: T) => at(item) >= window.startAt && at(item) < window.endAt;
  const requests = data.requests.filter(inWindow((request: RequestRecord) => request.sentAt));
  const findings = data.findings.filter(inWindow((finding: Finding) => finding.at));
  const of = (kind: Finding["kind"]) => findings.filter((finding) => finding.kind === kind);
  const { servedAgainMs, unserved } = servedAgain(requests, window);
  const recoveredAt = window.clearedAt + (servedAgainMs ?? 0);
  const timed = (from: number, to: number) => latency(requests.filter((request) => TIMED_KINDS.has(request.kind) && request.code === null && request.endedAt !== null && request.sentAt >= from && request.sentAt < to));
  const earlierKills = data.windows.filter((other) => other.index <= window.index).flatMap((other) => other.mayLose);
  const lost = of("session_lost").map((finding) => ({ session: finding.session ?? "", allowed: earlierKills.includes(finding.session ?? ""), detail: finding.detail }));
  const checks = data.checks.filter((check) => check.fault === window.index);
  const report: FaultReport = {
    window,
    sent: requests.length,
    results: requests.filter((request) => request.endedAt !== null && request.code === null).length,
    errors: countCodes(requests),
    errorExamples: examples(requests, window),
    unanswered: requests.filter((request) => request.endedAt === null),
    ranTwice: of("ran_twice"),
    counterLost: of("counter_lost"),
    toldResets: of("counter_reset_told").length,
    restored: of("restored").length,
    streamMismatches: of("stream_mismatch"),
    wrongValues: of("wrong_value"),
    lost,
    checks: { ok: checks.filter((check) => check.outcome === "ok").length, wrong: checks.filter((check) => check.outcome === "wrong").length, unanswered: checks.filter((check) => check.outcome === "unanswered").length },
    latency: { before: timed(window.startAt, window.injectedAt), during: timed(window.injectedAt, recoveredAt), after: timed(recoveredAt, window.endAt) },
    servedAgainMs,
    unserved,
    failures: [],
  };
  report.failures = faultFailures(report);
  return report;
}

function examples(requests: readonly RequestRecord[], window: FaultWindow): Record<string, string> {
  const found: Record<string, string> = {};
  for (const request of requests) {
    if (request.code === null || found[request.code]) continue;
    found[request.code] = `client ${request.client} ${request.kind}, sent ${seconds(request.sentAt - window.injectedAt)} from the fault's start: ${request.message ?? ""}`;
  }
  return found;
}

function faultFailures(report: FaultReport): string[] {
  const failures: string[] = [];
  if (report.unanswered.length > 0) failures.push(`${report.unanswered.length} requests got no answer at all`);
  for (const kind of ALWAYS_FAILS) {
    const found = { ran_twice: report.ranTwice, counter_lost: report.counterLost, stream_mismatch: report.streamMismatches, wrong_value: report.wrongValues }[kind];
    if (found.length > 0) failures.push(`${found.length} × ${kind.replace("_", " ")}`);
  }
  const disallowed = report.lost.filter((lost) => !lost.allowed);
  if (disallowed.length > 0) failures.push(`${disallowed.length} sessions lost that had to survive`);
  if (report.checks.wrong > 0) failures.push(`${report.checks.wrong} counters wrong after the fault`);
  if (report.checks.unanswered > 0) failures.push(`${report.checks.unanswered} counter checks unanswered after the fault`);
  if (report.unserved > 0) failures.push(`${report.unserved} clients not served again within the window`);
  return failures;
}

function latency(requests: readonly RequestRecord[]): Latency | null {
  if (requests.length === 0) return null;
  const ms = requests.map((request) => request.endedAt! - request.sentAt);
  return { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

/**
 * For each client, the wait from the fault's end (or from when it next asked, if it was quiet
 * then) until a request of its was answered with a result; the longest of them. A request still
 * waiting when the fault ended counts from the fault's end.
 */
function servedAgain(requests: readonly RequestRecord[], window: FaultWindow): { servedAgainMs: number | null; unserved: number } {
  const cleared = window.clearedAt;
  const byClient = new Map<number, RequestRecord[]>();
  for (const request of requests) byClient.set(request.client, [...(byClient.get(request.client) ?? []), request]);
  let longest = 0;
  let unserved = 0;
  for (const own of byClient.values()) {
    const relevant = own.filter((request) => request.sentAt >= cleared || request.endedAt === null || request.endedAt >= cleared);
    if (relevant.length === 0) continue; // it asked nothing after the fault: nothing to serve
    const asked = Math.max(cleared, Math.min(...relevant.map((request) => request.sentAt)));
    const served = relevant.filter((request) => request.code === null && request.endedAt !== null).map((request) => request.endedAt!);
    if (served.length === 0) {
      unserved++;
      continue;
    }
    longest = Math.max(longest, Math.min(...served) - asked);
  }
  return { servedAgainMs: unserved > 0 ? null : longest, unserved };
}

// ---------------------------------------------------------------------------------------------
// Text.

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function codesText(errors: Record<string, number>): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "none" : entries.map(([code, count]) => `${code} ${count}`).join(", ");
}

function latencyText(figure: Latency | null): string {
  return figure ? `${formatNumber(figure.p50, 0)} / ${formatNumber(figure.p99, 0)}` : "-";
}

export function formatReport(data: SoakData, report: SoakReport): string {
  const lines = [`wasm-repl soak: ${data.setup}`, `machine: ${data.machine}`, ""];
  // The fault's name and verdict read from the left, every figure between them from the right.
  const titles = ["fault", "sent", "results", "errors", "no answer", "ran twice", "lost (allowed)", "counters ok", "ms p50/p99 before", "during", "after", "served again", "verdict"];
  const columns = titles.map((title, index) => ({ title, align: index === 0 || index === titles.length - 1 ? ("left" as const) : ("right" as const) }));
  lines.push(
    formatTable(
      columns,
      report.faults.map((fault) => [
        fault.window.name,
        String(fault.sent),
        String(fault.results),
        String(Object.values(fault.errors).reduce((sum, count) => sum + count, 0)),
        String(fault.unanswered.length),
        String(fault.ranTwice.length),
        `${fault.lost.length} (${fault.lost.filter((lost) => lost.allowed).length})`,
        `${fault.checks.ok}/${fault.checks.ok + fault.checks.wrong + fault.checks.unanswered}`,
        latencyText(fault.latency.before),
        latencyText(fault.latency.during),
        latencyText(fault.latency.after),
        fault.servedAgainMs === null ? `${fault.unserved} never` : seconds(fault.servedAgainMs),
        fault.failures.length === 0 ? "pass" : "FAIL",
      ]),
    ),
  );
  for (const fault of report.faults) lines.push("", ...faultDetail(fault));
  lines.push("", `whole run: ${report.totals.sent} requests, ${report.totals.results} results, errors: ${codesText(report.totals.errors)}; ${report.totals.unanswered.length} without an answer`);
  if (report.trends.length > 0) lines.push("", ...trendLines(report.trends));
  lines.push("", report.failures.length === 0 ? "every check passed" : `FAILED:\n${report.failures.map((failure) => `  - ${failure}`).join("\n")}`);
  return lines.join("\n");
}

function faultDetail(fault: FaultReport): string[] {
  const { window } = fault;
  const lines = [`${window.index + 1}. ${window.name}: ${window.description}`];
  for (const note of window.notes) lines.push(`   ${note}`);
  lines.push(`   fault lasted ${seconds(window.clearedAt - window.injectedAt)}; every client served again ${fault.servedAgainMs === null ? `never (${fault.unserved} clients)` : `${seconds(fault.servedAgainMs)} after it ended`}`);
  lines.push(`   ${fault.sent} requests: ${fault.results} results; errors: ${codesText(fault.errors)}; ${fault.unanswered.length} without an answer`);
  for (const [code, example] of Object.entries(fault.errorExamples)) lines.push(`     ${code}, e.g. ${example}`);
  for (const request of fault.unanswered.slice(0, 5)) lines.push(`     no answer: client ${request.client} ${request.kind} (session ${request.session}) sent ${seconds(request.sentAt - window.injectedAt)} after the fault began`);
  lines.push(`   ran twice ${fault.ranTwice.length}; counters gone back unexplained ${fault.counterLost.length}; work lost as the server said (checkpoint, replaced interpreter) ${fault.toldResets}; sessions restored from a checkpoint ${fault.restored}`);
  for (const finding of [...fault.ranTwice, ...fault.counterLost, ...fault.streamMismatches, ...fault.wrongValues].slice(0, 8)) lines.push(`     ${finding.kind}: client ${finding.client} session ${finding.session}: ${finding.detail}`);
  const allowed = fault.lost.filter((lost) => lost.allowed).length;
  lines.push(`   sessions lost ${fault.lost.length}: ${allowed} allowed (no checkpoint on the SIGKILLed pod), ${fault.lost.length - allowed} not`);
  for (const lost of fault.lost.filter((one) => !one.allowed).slice(0, 8)) lines.push(`     lost, not allowed: ${lost.session}: ${lost.detail}`);
  lines.push(`   counters checked after it: ${fault.checks.ok} ok, ${fault.checks.wrong} wrong, ${fault.checks.unanswered} unanswered`);
  lines.push(`   verdict: ${fault.failures.length === 0 ? "pass" : `FAIL (${fault.failures.join("; ")})`}`);
  return lines;
}

function trendLines(found: readonly Trend[]): string[] {
  const right = "right" as const;
  const value = (trend: Trend, number: number) => formatNumber(number, trend.unit === "MiB" ? 1 : 0);
  return [
    "sampled during the run, per server process (a series grows without bound when, after its first quarter, it rises by over 10% of its median and over a floor; judged from 8 samples after that quarter):",
    formatTable(
      [{ title: "series" }, { title: "unit" }, { title: "n", align: right }, { title: "first", align: right }, { title: "last", align: right }, { title: "min", align: right }, { title: "max", align: right }, { title: "per hour", align: right }, { title: "verdict" }],
      found.map((trend) => [trend.series, trend.unit, String(trend.n), value(trend, trend.first), value(trend, trend.last), value(trend, trend.min), value(trend, trend.max), value(trend, trend.perHour), trend.grows === null ? "too few samples" : trend.grows ? "GROWS" : "flat"]),
    ),
  ];
}

/** One JSON line for tools, as every bench prints. */
export function reportJson(report: SoakReport): string {
  return JSON.stringify({
    bench: "soak",
    passed: report.failures.length === 0,
    failures: report.failures,
    faults: report.faults.map((fault) => ({
      fault: fault.window.name,
      sent: fault.sent,
      results: fault.results,
      errors: fault.errors,
      unanswered: fault.unanswered.length,
      ran_twice: fault.ranTwice.length,
      lost: fault.lost.length,
      lost_allowed: fault.lost.filter((lost) => lost.allowed).length,
      checks: fault.checks,
      latency_ms: fault.latency,
      served_again_ms: fault.servedAgainMs,
    })),
    totals: { sent: report.totals.sent, results: report.totals.results, errors: report.totals.errors, unanswered: report.totals.unanswered.length },
    trends: report.trends.map((trend) => ({ series: trend.series, per_hour: Number(trend.perHour.toFixed(2)), grows: trend.grows })),
  });
}
