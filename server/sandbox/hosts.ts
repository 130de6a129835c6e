// The sandbox processes of a server, by identity: which process a new interpreter goes into.
// The OS process is the boundary between identities: a process hosts interpreters of one
// identity only (a tenant's user), at most `perProcess` at once (so that what can kill a whole
// process, a V8 abort, takes that many at most). A process that has started `recycleAfter`
// interpreters takes no more (terminated workers leave some memory behind) and ends once empty;
// one left empty for `idleMs` ends too.
import { SandboxProcess, type ProcessEnvironment } from "./sandbox-process.ts";

export interface HostOptions {
  environment: ProcessEnvironment;
  perProcess: number;
  recycleAfter: number;
  idleMs: number;
}

export class SandboxHosts {
  private readonly byKey = new Map<string, Set<SandboxProcess>>();
  private readonly all = new Set<SandboxProcess>();
  private readonly emptyTimers = new Map<SandboxProcess, NodeJS.Timeout>();

  constructor(private readonly options: HostOptions) {}

  /** Processes running now. */
  get processes(): number {
    return this.all.size;
  }

  /**
   * A process for one more interpreter of `key`: one of the key's with room, or a new one. For
   * null, always a new process (it becomes the key's that claims its interpreter; see assign).
   */
  hostFor(key: string | null): SandboxProcess {
    if (key !== null) {
      for (const host of this.byKey.get(key) ?? []) if (this.hasRoom(host)) return this.use(host);
    }
    const host = new SandboxProcess(this.options.environment);
    this.all.add(host);
    if (key !== null) this.keyed(key).add(host);
    void host.exited.then(() => this.forget(host));
    return this.use(host);
  }

  /** Whether `key` has a process that can take one more interpreter. */
  hasRoomFor(key: string): boolean {
    for (const host of this.byKey.get(key) ?? []) if (this.hasRoom(host)) return true;
    return false;
  }

  /** The process of an interpreter booted for no identity now belongs to `key`. */
  assign(host: SandboxProcess, key: string): void {
    this.keyed(key).add(host);
  }

  /** Told when an interpreter of `host` ended. */
  released(host: SandboxProcess): void {
    if (!host.alive || host.interpreters > 0) return;
    if (host.started >= this.options.recycleAfter) return host.retire();
    const timer = setTimeout(() => {
      this.emptyTimers.delete(host);
      if (host.interpreters === 0) host.retire();
    }, this.options.idleMs);
    timer.unref();
    this.emptyTimers.set(host, timer);
  }

  async close(): Promise<void> {
    for (const timer of this.emptyTimers.values()) clearTimeout(timer);
    await Promise.all([...this.all].map((host) => host.close()));
  }

  private hasRoom(host: SandboxProcess): boolean {
    return host.open && host.interpreters < this.options.perProcess && host.started < this.options.recycleAfter;
  }

  private use(host: SandboxProcess): SandboxProcess {
    clearTimeout(this.emptyTimers.get(host));
    this.emptyTimers.delete(host);
    return host;
  }

  private keyed(key: string): Set<SandboxProcess> {
    let hosts = this.byKey.get(key);
    if (!hosts) this.byKey.set(key, (hosts = new Set()));
    return hosts;
  }

  private forget(host: SandboxProcess): void {
    this.all.delete(host);
    clearTimeout(this.emptyTimers.get(host));
    this.emptyTimers.delete(host);
    for (const [key, hosts] of this.byKey) {
      hosts.delete(host);
      if (hosts.size === 0) this.byKey.delete(key);
    }
  }
}
