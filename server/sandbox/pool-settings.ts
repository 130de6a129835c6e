// How interpreters are kept ready and grouped into processes (see pool.ts and hosts.ts): the
// settings, apart from the code, so that the configuration can name them without importing it.

/** The pool's and the processes' policy; each field names its variable. */
export interface PoolSettings {
  /** POOL_MAX_PER_IDENTITY: ready interpreters one identity's demand may keep. */
  maxPerIdentity: number;
  /** POOL_MAX: ready interpreters kept for identities in all. */
  max: number;
  /** POOL_WAIT_TIMEOUT: how long a take waits for a boot before it fails busy. */
  waitTimeoutMs: number;
  /** INTERPRETERS_PER_PROCESS: what one V8 abort can take down at most. */
  interpretersPerProcess: number;
  /** PROCESS_RECYCLE_AFTER: interpreters a process starts before it is replaced. */
  recycleAfter: number;
  /** POOL_IDLE_IDENTITY: an identity quiet this long gives its ready interpreters and empty processes back. */
  idleIdentityMs: number;
}

export const DEFAULT_POOL_SETTINGS: PoolSettings = {
  maxPerIdentity: 4,
  max: 16,
  waitTimeoutMs: 30_000,
  interpretersPerProcess: 8,
  recycleAfter: 128,
  idleIdentityMs: 60_000,
};
