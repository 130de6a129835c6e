// Interpreters that share a sandbox process: neither one's kill nor one's snapshot may end the
// others because the process was busy for another of them, and a process that truly hangs is
// still ended, saying that the server ended it and why. Each test has processes of its own
// (SandboxProcess and Sandbox driven directly), some with a short kill confirmation.
//
// "Busy" is provoked, not waited for: the host's event loop is blocked on purpose (as a
// server's is while it compresses and stores a snapshot on a loaded machine), or the process
// is stopped with SIGSTOP. Nothing here asserts how long anything took.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";
import { SandboxProcess } from "../../server/sandbox/sandbox-process.ts";
import { Sandbox, type SandboxEnvironment } from "../../server/sandbox/sandbox.ts";

const runtime = await startTestRuntime({ poolSize: 0 });
const processes: SandboxProcess[] = [];
after(() => Promise.all(processes.map((host) => host.close())));

/** A process of the runtime's, whose unconfirmed kills wait `killConfirmMs` of silence. */
function processWith(killConfirmMs: number): SandboxProcess {
  const host = new SandboxProcess({ ...runtime.environment, killConfirmMs });
  processes.push(host);
  return host;
}

/** Two interpreters in one process, each with a variable. */
async function pair(host: SandboxProcess, env: SandboxEnvironment = runtime.environment): Promise<[Sandbox, Sandbox]> {
  const pair = await Promise.all([Sandbox.start(env, host), Sandbox.start(env, host)]);
  for (const [index, sandbox] of pair.entries()) await run(sandbox, `kept = ${index + 41}`);
  return pair;
}

const blocker = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread (the host's event loop: no timer fires, nothing is read) for `ms`. */
function blockHost(ms: number): void {
  Atomics.wait(blocker, 0, 0, ms);
}

/** Bytes the process has written so far (to its pipe to the host: it writes nowhere else), from /proc. */
function bytesWritten(pid: number): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a kill confirmed while the host's event loop was busy does not end the process, nor its other interpreters", async () => {
  const KILL_CONFIRM_MS = 50;
  const host = processWith(KILL_CONFIRM_MS);
  const [bystander, closing] = await pair(host);
  const written = bytesWritten(host.pid!);
  const closed = closing.close();
  // The host is busy past the kill confirmation's time, while the process ends the worker and
  // says so: when the host's loop turns again, its timer is due before that answer is read.
  const busySince = performance.now();
  while (bytesWritten(host.pid!) === written && performance.now() - busySince < 30_000) blockHost(5);
  blockHost(Math.max(0, 3 * KILL_CONFIRM_MS - (performance.now() - busySince)));
  assert.notEqual(bytesWritten(host.pid!), written, "the process answered the kill while the host was busy");

  assert.equal((await closed).cause, "closed");
  const result = await run(bystander, "kept");
  assert.equal(result.value, "41", `the other interpreter kept its variables: ${JSON.stringify(result.error)}`);
  assert.equal(result.state_preserved, true);
  assert.equal(host.alive, true);
});

test("a kill whose confirmation is queued behind another interpreter's snapshot does not end their process", async () => {
  // The host reads the snapshot slowly (its loop blocked 40 ms a turn, reading at most 2 MiB a
  // turn: libuv's 32 reads of 64 KiB): what is left of it after the kill takes far longer than
  // the confirmation's 200 ms to arrive, and the process's `exited` comes after it.
  const KILL_CONFIRM_MS = 200;
  const host = processWith(KILL_CONFIRM_MS);
  const [snapshotted, closing] = await pair(host);
  const activity = host.activity;
  const snapshot = snapshotted.snapshot();
  // The snapshot (45 MB) is arriving once a few reads came (each at most 64 KiB; nothing else is sent).
  while (host.activity < activity + 3) await delay(1);
  const slowUntil = performance.now() + 5 * KILL_CONFIRM_MS;
  const slowly = () => {
    if (performance.now() > slowUntil) return;
    blockHost(40);
    setImmediate(slowly);
  };
  slowly();
  const closed = closing.close();

  const bytes = await snapshot.catch((error: Error) => assert.fail(`the snapshot failed: ${error.message}`));
  assert.ok(bytes.byteLength > 40 * 2 ** 20, `the snapshot arrived whole (${bytes.byteLength} bytes)`);
  assert.equal((await closed).cause, "closed");
  const result = await run(snapshotted, "kept");
  assert.equal(result.value, "41", `the snapshotted interpreter kept its variables: ${JSON.stringify(result.error)}`);
  assert.equal(host.alive, true);
  // The snapshot is sound: it wakes, with its variable, in the same process.
  const woken = await Sandbox.start(runtime.environment, host, bytes);
  assert.equal((await run(woken, "kept")).value, "41");
});

test("a process that does not answer a kill at all is ended with every interpreter, and they are told the server ended it and why", async () => {
  const host = processWith(50);
  const [bystander, closing] = await pair(host);
  process.kill(host.pid!, "SIGSTOP");
  const closed = closing.close();
  const exit = await bystander.exited;
  assert.equal(exit.cause, "unresponsive");
  assert.match(exit.detail, /^the server killed its sandbox process: it did not confirm the end of one of its interpreters, and sent and read nothing for 50 ms/);
  assert.doesNotMatch(exit.detail, /unexpectedly/);
  assert.equal((await closed).cause, "closed");
  assert.equal(host.alive, false);
});

test("an interpreter whose process the server closes is told so, not that it crashed", async () => {
  const host = processWith(1000);
  const [sandbox] = await pair(host);
  await host.close();
  const exit = await sandbox.exited;
  assert.equal(exit.cause, "closed");
  assert.match(exit.detail, /^the server killed its sandbox process: the server closed its sandbox process/);
});

test("a snapshot that waits for another interpreter's does not count the wait against its deadline", async () => {
  // The snapshot deadline here: 100 ms + 20 ms a MiB of a 384 MiB cap, 7.8 s; a snapshot takes
  // one or a few seconds. The host, blocked past the deadline, has it seem that the first
  // snapshot took that long; the second, asked for at the same time, was waiting behind it.
  const memoryMb = 384;
  const callTimeoutMs = 100;
  const env = { ...runtime.environment, limits: { ...runtime.environment.limits, memoryMb, callTimeoutMs } };
  const host = new SandboxProcess({ ...env, killConfirmMs: 60_000 });
  processes.push(host);
  const [first, second] = await pair(host, env);
  const firstSnapshot = first.snapshot();
  const secondSnapshot = second.snapshot();
  blockHost(callTimeoutMs + 20 * memoryMb + 500);

  await firstSnapshot.catch(() => {}); // its deadline passed: it may have been taken for hung
  const bytes = await secondSnapshot.catch((error: Error) => assert.fail(`the waiting snapshot failed: ${error.message}`));
  assert.ok(bytes.byteLength > 40 * 2 ** 20);
  assert.equal(second.alive, true, "the waiting snapshot's interpreter was not taken for hung");
  const result = await run(second, "kept");
  assert.equal(result.value, "42");
  assert.equal(result.state_preserved, true);
});
