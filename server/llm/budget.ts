// What one session (with the child RLMs it spawns) may spend on model calls: how many at once,
// how many in all, how many tokens. Each refusal names the limit, its value and the use.

export interface LlmLimits {
  maxConcurrency: number;
  maxCalls: number;
  maxTokens: number;
  /** Per call, waiting for a concurrency slot included. */
  timeoutMs: number;
}

export class LlmBudget {
  private calls = 0;
  private tokens = 0;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limits: LlmLimits) {}

  /** Counts a call against the totals; the refusal's text when a total is spent, else null. */
  admit(): string | null {
    const { maxCalls, maxTokens } = this.limits;
    if (this.calls >= maxCalls) return `this session has made its maximum of ${maxCalls} LLM calls (LLM_MAX_CALLS)`;
    if (this.tokens >= maxTokens) return `this session has used its maximum of ${maxTokens} LLM tokens (LLM_MAX_TOKENS, used: ${this.tokens})`;
    this.calls++;
    return null;
  }

  spend(tokens: number): void {
    this.tokens += tokens;
  }

  /**
   * Waits for one of LLM_MAX_CONCURRENCY slots; resolves with its release. Resolves null when
   * none frees up within `waitMs` or the signal aborts.
   */
  async slot(waitMs: number, signal: AbortSignal): Promise<(() => void) | null> {
    if (this.active < this.limits.maxConcurrency) return this.take();
    return new Promise((resolve) => {
      const finish = (granted: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", abandon);
        const index = this.waiting.indexOf(grant);
        if (index !== -1) this.waiting.splice(index, 1);
        resolve(granted ? this.take() : null);
      };
      const grant = () => finish(true);
      const abandon = () => finish(false);
      const timer = setTimeout(abandon, waitMs);
      signal.addEventListener("abort", abandon, { once: true });
      this.waiting.push(grant);
    });
  }

  private take(): () => void {
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting[0]?.();
    };
  }
}
