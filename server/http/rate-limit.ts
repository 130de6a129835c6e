// How much one client may make the server parse: token buckets of frames and of bytes. Every
// frame costs the event loop that serves all sessions (a 64 MiB frame is ~200 ms of toString and
// JSON.parse), so past a burst the connection is closed (1008) before its frame is parsed.
// The buckets belong to the identity (tenant and user), not to the connection: a client that
// reconnects after being closed finds them as empty as it left them, and until they are full
// again its connections are refused before they open (a reconnect storm costs no frames).

export interface RateLimits {
  /** Frames per second; 0: no limit. */
  frameRate: number;
  frameBurst: number;
  /** Bytes per second; 0: no limit. */
  byteRate: number;
  byteBurst: number;
}

class TokenBucket {
  private tokens: number;
  private updatedAt = performance.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes `amount` tokens; false (taking none) when fewer are left. */
  take(amount: number): boolean {
    if (this.rate === 0) return true;
    this.refill();
    if (amount > this.tokens) return false;
    this.tokens -= amount;
    return true;
  }

  /** Back to its burst: forgetting it changes nothing. */
  get full(): boolean {
    this.refill();
    return this.rate === 0 || this.tokens >= this.burst;
  }

  /** Milliseconds until it is back to its burst. */
  get msToFull(): number {
    this.refill();
    return this.rate === 0 ? 0 : Math.max(0, ((this.burst - this.tokens) / this.rate) * 1000);
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = now;
  }
}

/** One identity's allowance; `admit` names the limit a frame would break, or answers null. */
export class Allowance {
  private readonly frames: TokenBucket;
  private readonly bytes: TokenBucket;
  /** The limit a connection was closed for, until both buckets are full again. */
  private broken: string | null = null;

  constructor(private readonly limits: RateLimits) {
    this.frames = new TokenBucket(limits.frameRate, limits.frameBurst);
    this.bytes = new TokenBucket(limits.byteRate, limits.byteBurst);
  }

  admit(bytes: number): string | null {
    const { frameRate, frameBurst, byteRate, byteBurst } = this.limits;
    if (!this.frames.take(1)) return `more than ${frameBurst} frames at once or ${frameRate} a second (FRAME_BURST, FRAME_RATE)`;
    if (!this.bytes.take(bytes)) return `more than ${mib(byteBurst)} MiB at once or ${mib(byteRate)} MiB a second (BYTE_BURST_MB, BYTE_RATE_MB)`;
    return null;
  }

  /** A connection was closed for `limit`: the identity's next connections are refused until its buckets are full. */
  cut(limit: string): void {
    this.broken = limit;
  }

  /** While the identity is cut: the limit it broke and how long until it may connect again; else null. */
  refusal(): { limit: string; retryAfterMs: number } | null {
    if (this.broken === null) return null;
    const retryAfterMs = Math.ceil(Math.max(this.frames.msToFull, this.bytes.msToFull));
    if (retryAfterMs > 0) return { limit: this.broken, retryAfterMs };
    this.broken = null;
    return null;
  }

  get full(): boolean {
    return this.frames.full && this.bytes.full;
  }
}

/** Identities kept before the ones back at their burst are forgotten. */
const PRUNE_AT = 4096;

export class RateLimiter {
  private readonly allowances = new Map<string, Allowance>();

  constructor(private readonly limits: RateLimits) {}

  for(identity: { tenant: string; user: string }): Allowance {
    const key = `${identity.tenant}\u0000${identity.user}`;
    let allowance = this.allowances.get(key);
    if (!allowance) {
      if (this.allowances.size >= PRUNE_AT) for (const [other, kept] of this.allowances) if (kept.full) this.allowances.delete(other);
      allowance = new Allowance(this.limits);
      this.allowances.set(key, allowance);
    }
    return allowance;
  }
}

function mib(bytes: number): number {
  return Number((bytes / (1024 * 1024)).toFixed(2));
}
