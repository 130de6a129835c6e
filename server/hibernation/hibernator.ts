// Where hibernated interpreters go: their snapshot, as a delta against the base snapshot,
// compressed, in the snapshot store; and how they come back.
import type { SnapshotLoader } from "../sandbox/interpreter.ts";
import type { SnapshotStore } from "../store/store.ts";
import { decodeSnapshot, encodeSnapshot } from "./snapshot-codec.ts";

export class SnapshotTooLarge extends Error {}
export class SnapshotMissing extends Error {}

export interface Persisted {
  key: string;
  /** Bytes stored (after delta and compression). */
  bytes: number;
  load: SnapshotLoader;
}

export class Hibernator {
  constructor(
    private readonly snapshots: SnapshotStore,
    private readonly base: Uint8Array,
    private readonly maxBytes: number,
  ) {}

  /** Stores a session's snapshot; SnapshotTooLarge when it exceeds SNAPSHOT_MAX_MB. */
  async persist(sessionId: string, snapshot: Uint8Array): Promise<Persisted> {
    if (snapshot.byteLength > this.maxBytes) {
      throw new SnapshotTooLarge(`the interpreter's snapshot is ${mib(snapshot.byteLength)} MiB, over SNAPSHOT_MAX_MB (${mib(this.maxBytes)} MiB)`);
    }
    const encoded = await encodeSnapshot(snapshot, this.base);
    // A fresh key per hibernation: a late reader of the previous one never sees a mix.
    const key = `${sessionId}.${Date.now().toString(36)}`;
    await this.snapshots.put(key, encoded);
    return { key, bytes: encoded.byteLength, load: this.loader(key) };
  }

  loader(key: string): SnapshotLoader {
    return async () => {
      const encoded = await this.snapshots.get(key);
      if (!encoded) throw new SnapshotMissing(`the session's snapshot ${key} is no longer stored`);
      return decodeSnapshot(encoded, this.base);
    };
  }

  delete(key: string): Promise<void> {
    return this.snapshots.delete(key);
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
