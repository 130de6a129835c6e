// Per-tenant quotas: concurrent sessions, concurrently running cells, sessions opened per
// minute. Defaults come from the environment; a token's signed `limits` claim overrides them.
import type { Identity } from "../auth/identity.ts";
import type { Clock } from "../clock.ts";
import type { TenantLimits } from "../auth/identity.ts";

export class QuotaExceeded extends Error {}

/** Admits cells to run against a quota shared with other sessions (the tenant's). */
export interface CellGate {
  /** Throws QuotaExceeded, whose message names the limit, when the cell may not start now. */
  start(): void;
  finish(): void;
}

const MINUTE_MS = 60_000;

interface Usage {
  sessions: number;
  running: number;
  /** When recent sessions were opened, oldest first. */
  opens: number[];
}

export class TenantQuotas {
  private readonly usage = new Map<string, Usage>();

  constructor(
    private readonly defaults: TenantLimits,
    private readonly clock: Clock,
  ) {}

  limitsFor(identity: Identity): TenantLimits {
    return { ...this.defaults, ...identity.limits };
  }

  /** The running-cells quota of one tenant, at the limits of the identity that runs them. */
  cellGate(tenant: string, limits: TenantLimits): CellGate {
    return { start: () => this.startCell(tenant, limits), finish: () => this.finishCell(tenant) };
  }

  /** Counts a new session against its tenant, or refuses it naming the limit. */
  openSession(identity: Identity): void {
    const limits = this.limitsFor(identity);
    const usage = this.of(identity.tenant);
    const now = this.clock.now();
    while (usage.opens.length > 0 && usage.opens[0]! <= now - MINUTE_MS) usage.opens.shift();
    if (usage.sessions >= limits.maxSessions) {
      throw new QuotaExceeded(`tenant "${identity.tenant}" has ${usage.sessions} open sessions, its limit (TENANT_MAX_SESSIONS) is ${limits.maxSessions}; close one first`);
    }
    if (usage.opens.length >= limits.openRate) {
      throw new QuotaExceeded(`tenant "${identity.tenant}" opened ${usage.opens.length} sessions in the last minute, its limit (TENANT_OPEN_RATE) is ${limits.openRate} per minute; retry in a moment`);
    }
    usage.sessions++;
    usage.opens.push(now);
  }

  /** Counts a session this server takes over (woken from the store): it was admitted when opened. */
  adoptSession(tenant: string): void {
    this.of(tenant).sessions++;
  }

  closeSession(tenant: string): void {
    this.of(tenant).sessions--;
    this.forgetIfIdle(tenant);
  }

  /** Counts a cell as running, or refuses it naming the limit. */
  startCell(tenant: string, limits: TenantLimits): void {
    const usage = this.of(tenant);
    if (usage.running >= limits.maxRunning) {
      throw new QuotaExceeded(`tenant "${tenant}" has ${usage.running} cells running, its limit (TENANT_MAX_RUNNING) is ${limits.maxRunning}; retry when one ends`);
    }
    usage.running++;
  }

  finishCell(tenant: string): void {
    this.of(tenant).running--;
    this.forgetIfIdle(tenant);
  }

  private of(tenant: string): Usage {
    let usage = this.usage.get(tenant);
    if (!usage) this.usage.set(tenant, (usage = { sessions: 0, running: 0, opens: [] }));
    return usage;
  }

  private forgetIfIdle(tenant: string): void {
    const usage = this.usage.get(tenant);
    if (usage && usage.sessions === 0 && usage.running === 0 && usage.opens.every((at) => at <= this.clock.now() - MINUTE_MS)) {
      this.usage.delete(tenant);
    }
  }
}
