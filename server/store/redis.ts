// The shared store (REDIS_URL): what every pod sees. Layout, under the key prefix:
//   session:<id>              hash: one record (fields as in SessionRecord; null fields absent)
//   tenant:<tenant>:sessions  set of ids: the tenant's records
//   pod:<pod>:heartbeat       string: the pod's address (for someone reading Redis), with the heartbeat TTL
//   snapshot:<key>            string: snapshot bytes (RedisSnapshotStore)
// A record is created with its tenant-set entry in one Lua script, and changed by a compare-and-set
// script; a record's tenant never changes, so no change moves it between sets. Ended records
// expire (PEXPIRE) while their ids stay in the set; a listing removes ids whose record has gone.
// That pruning script reads record keys it builds from set members, so this layout is for one
// Redis (or a primary with replicas), not Cluster.
import type { Redis } from "ioredis";
import type { Clock } from "../clock.ts";
import type { RedisConnection } from "./redis-connection.ts";
import {
  byCreation,
  cancelsExpiry,
  definedChanges,
  endingChanges,
  type EndedState,
  type Expectation,
  type RecordChanges,
  type SessionRecord,
  type SessionState,
  type SessionStore,
  type SnapshotStore,
} from "./store.ts";

/** Keys of one kind: `head + member + tail`. Scripts get head and tail, so the layout is defined only here. */
interface KeyPattern {
  head: string;
  tail: string;
}

function keyOf(pattern: KeyPattern, member: string): string {
  return pattern.head + member + pattern.tail;
}

/** Creates a record and its tenant-set entry unless the id exists. Returns 1 when created. */
const CREATE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = cjson.decode(ARGV[1])
local flat = {}
for field, value in pairs(fields) do
  flat[#flat + 1] = field
  flat[#flat + 1] = value
end
redis.call('HSET', KEYS[1], unpack(flat))
redis.call('SADD', KEYS[2], fields.id)
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/**
 * Compare-and-set: applies changes (JSON; null deletes a field) if the record exists and matches
 * the expectation (JSON {states?, pod?}; pod null means "owned by no pod"), and sets its expiry
 * ('' keeps it, 'persist' removes it, else ms).
 * Returns the new record as a flat field list, or nil.
 */
const CHANGE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local current = redis.call('HMGET', KEYS[1], 'state', 'pod')
local state, pod = current[1], current[2]
local expect = cjson.decode(ARGV[1])
if expect.states then
  local matched = false
  for _, wanted in ipairs(expect.states) do
    if wanted == state then matched = true end
  end
  if not matched then return false end
end
if expect.pod == cjson.null then
  if pod then return false end
elseif expect.pod ~= nil and expect.pod ~= pod then
  return false
end
local changes = cjson.decode(ARGV[2])
local set, unset = {}, {}
for field, value in pairs(changes) do
  if value == cjson.null then
    unset[#unset + 1] = field
  else
    set[#set + 1] = field
    set[#set + 1] = value
  end
end
if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
if #unset > 0 then redis.call('HDEL', KEYS[1], unpack(unset)) end
if ARGV[3] == 'persist' then
  redis.call('PERSIST', KEYS[1])
elseif ARGV[3] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('HGETALL', KEYS[1])
`;

/** Removes from a set the members whose key (head .. member .. tail) no longer exists. */
const PRUNE_INDEX = `
local removed = 0
for i = 3, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i] .. ARGV[2]) == 0 then
    removed = removed + redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return removed
`;

interface StoreScripts {
  createSession(session: string, tenantSet: string, fields: string, ttlMs: string): Promise<number>;
  changeSession(session: string, expect: string, changes: string, expiry: string): Promise<string[] | null>;
  pruneIndex(set: string, head: string, tail: string, ...members: string[]): Promise<number>;
}

type ScriptedRedis = Redis & StoreScripts;

export class RedisStore implements SessionStore {
  private readonly keys: { session: KeyPattern; tenantSessions: KeyPattern; heartbeat: KeyPattern };

  /** Takes ownership of the connection: close() closes it. */
  constructor(
    private readonly connection: RedisConnection,
    keyPrefix: string,
    private readonly clock: Clock,
  ) {
    this.keys = {
      session: { head: `${keyPrefix}session:`, tail: "" },
      tenantSessions: { head: `${keyPrefix}tenant:`, tail: ":sessions" },
      heartbeat: { head: `${keyPrefix}pod:`, tail: ":heartbeat" },
    };
    // EVALSHA, falling back to EVAL when the server does not know the script (after a restart).
    connection.client.defineCommand("createSession", { numberOfKeys: 2, lua: CREATE_SESSION });
    connection.client.defineCommand("changeSession", { numberOfKeys: 1, lua: CHANGE_SESSION });
    connection.client.defineCommand("pruneIndex", { numberOfKeys: 1, lua: PRUNE_INDEX });
  }

  async create(record: SessionRecord): Promise<boolean> {
    return this.insert(record, null);
  }

  async restore(record: SessionRecord, ttlMs: number | null): Promise<boolean> {
    return this.insert(record, ttlMs);
  }

  async get(id: string): Promise<SessionRecord | null> {
    return decodeRecord(await this.run((redis) => redis.hgetall(keyOf(this.keys.session, id))));
  }

  async update(id: string, changes: RecordChanges, expect: Expectation = {}): Promise<SessionRecord | null> {
    return this.change(id, changes, expect, cancelsExpiry(changes) ? "persist" : "");
  }

  async end(id: string, state: EndedState, reason: string, retentionMs: number, expect: Expectation = {}): Promise<SessionRecord | null> {
    return this.change(id, endingChanges(state, reason, this.clock.now()), expect, String(wholeMs(retentionMs)));
  }

  async listByTenant(tenant: string): Promise<SessionRecord[]> {
    return this.listIndexed(keyOf(this.keys.tenantSessions, tenant));
  }

  async heartbeat(pod: string, address: string, ttlMs: number): Promise<void> {
    await this.run((redis) => redis.set(keyOf(this.keys.heartbeat, pod), address, "PX", wholeMs(ttlMs)));
  }

  async isPodAlive(pod: string): Promise<boolean> {
    return (await this.run((redis) => redis.exists(keyOf(this.keys.heartbeat, pod)))) === 1;
  }

  async ping(): Promise<void> {
    await this.run((redis) => redis.ping());
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private run<T>(commands: (redis: ScriptedRedis) => Promise<T>): Promise<T> {
    return this.connection.run((client) => commands(client as ScriptedRedis));
  }

  private async insert(record: SessionRecord, ttlMs: number | null): Promise<boolean> {
    const created = await this.run((redis) =>
      redis.createSession(
        keyOf(this.keys.session, record.id),
        keyOf(this.keys.tenantSessions, record.tenant),
        JSON.stringify(encodeRecord(record)),
        ttlMs === null ? "" : String(wholeMs(ttlMs)),
      ),
    );
    return created === 1;
  }

  private async change(id: string, changes: RecordChanges, expect: Expectation, expiry: string): Promise<SessionRecord | null> {
    const fields = await this.run((redis) =>
      redis.changeSession(
        keyOf(this.keys.session, id),
        JSON.stringify(expect),
        JSON.stringify(encodeChanges(changes)),
        expiry,
      ),
    );
    return fields ? decodeRecord(pairsToHash(fields)) : null;
  }

  /** The records of an index set; ids whose record expired are removed from the set on the way. */
  private async listIndexed(setKey: string): Promise<SessionRecord[]> {
    return this.run(async (redis) => {
      const ids = await redis.smembers(setKey);
      if (ids.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(keyOf(this.keys.session, id));
      const hashes = throwFirstError(await pipeline.exec()) as Record<string, string>[];
      const records: SessionRecord[] = [];
      const gone: string[] = [];
      ids.forEach((id, index) => {
        const record = decodeRecord(hashes[index] ?? {});
        if (record) records.push(record);
        else gone.push(id);
      });
      if (gone.length > 0) await redis.pruneIndex(setKey, this.keys.session.head, this.keys.session.tail, ...gone);
      return records.sort(byCreation);
    });
  }
}

export class RedisSnapshotStore implements SnapshotStore {
  private readonly head: string;

  /**
   * Give it a connection of its own with a command timeout fit for its largest snapshot: on a
   * shared connection a large transfer would hold up every record command behind it.
   */
  constructor(
    private readonly connection: RedisConnection,
    keyPrefix: string,
  ) {
    this.head = `${keyPrefix}snapshot:`;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.connection.run((redis) => redis.set(this.head + key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.connection.run((redis) => redis.getBuffer(this.head + key));
  }

  async delete(key: string): Promise<void> {
    await this.connection.run((redis) => redis.del(this.head + key));
  }
}

/** A TTL as Redis takes it: whole milliseconds, at least one (PEXPIRE 0 would delete at once). */
function wholeMs(ms: number): number {
  return Math.max(1, Math.round(ms));
}

/** Hash fields of a whole record; null fields are left out (absent means null); the environment as JSON. */
function encodeRecord(record: SessionRecord): Record<string, string> {
  return Object.fromEntries(Object.entries(record).flatMap(([field, value]) => (value === null ? [] : [[field, typeof value === "object" ? JSON.stringify(value) : String(value)]])));
}

/** Hash fields a change sets (strings) or deletes (null). */
function encodeChanges(changes: RecordChanges): Record<string, string | null> {
  return Object.fromEntries(Object.entries(definedChanges(changes)).map(([field, value]) => [field, value === null ? null : String(value)]));
}

function decodeRecord(hash: Record<string, string>): SessionRecord | null {
  const { id, tenant, user, state } = hash;
  if (id === undefined || tenant === undefined || user === undefined || state === undefined) return null;
  const text = (field: string) => hash[field] ?? null;
  const number = (field: string) => Number(hash[field] ?? 0);
  const numberOrNull = (field: string) => (hash[field] === undefined ? null : Number(hash[field]));
  return {
    id,
    tenant,
    user,
    pod: text("pod"),
    podAddress: text("podAddress"),
    state: state as SessionState,
    createdAt: number("createdAt"),
    lastActiveAt: number("lastActiveAt"),
    cellCount: number("cellCount"),
    snapshotKey: text("snapshotKey"),
    snapshotBytes: number("snapshotBytes"),
    checkpointCount: numberOrNull("checkpointCount"),
    endedReason: text("endedReason"),
    endedAt: numberOrNull("endedAt"),
    // A record written before sessions had an environment has none.
    env: hash.env === undefined ? {} : (JSON.parse(hash.env) as Record<string, string>),
    rlmCallText: hash.rlmCallText === "true",
  };
}

/** HGETALL as a script returns it, [field, value, field, value, ...], as an object. */
function pairsToHash(flat: string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) hash[flat[index]!] = flat[index + 1]!;
  return hash;
}

/** The replies of a pipeline or MULTI, or the first error one of its commands got. */
function throwFirstError(results: [error: Error | null, reply: unknown][] | null): unknown[] {
  if (results === null) throw new Error("the transaction was aborted");
  for (const [error] of results) if (error) throw error;
  return results.map(([, reply]) => reply);
}
