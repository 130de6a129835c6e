// A clock that moves only when a test says so.
import type { Clock } from "../../server/clock.ts";

export class ManualClock implements Clock {
  constructor(private time = Date.now()) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}
