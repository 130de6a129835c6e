import { describe } from "node:test";
import { MemorySnapshotStore, MemoryStore } from "../../server/store/memory.ts";
import { sessionStoreContract, snapshotStoreContract } from "./contract.ts";
import { ManualClock } from "./manual-clock.ts";

describe("MemoryStore", () => {
  sessionStoreContract(async () => {
    const clock = new ManualClock();
    return { store: new MemoryStore(clock), elapse: async (ms) => clock.advance(ms), close: async () => {} };
  });
});

describe("MemorySnapshotStore", () => {
  snapshotStoreContract(async () => ({ snapshots: new MemorySnapshotStore(), close: async () => {} }));
});
