/**
 * Reading a running service process's /system/status, and waiting on it: no test framework here,
 * so the benches use it as well as the process-level tests (through ./service-checks.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServiceStatus {
  readonly binance: {
    readonly state: string;
    readonly lastMessageAt?: number | null;
    readonly lastError?: string | null;
  };
  readonly backfill?: { readonly repairedRanges: number };
  readonly writes?: { readonly flushes: number };
  readonly cache?: { readonly driver: string; readonly healthy: boolean };
  readonly bus?: {
    readonly driver: string;
    readonly healthy: boolean;
    readonly received: number;
    readonly dropped: number;
  };
  readonly ingestion?: { readonly mode: string; readonly role: 'ingesting' | 'standby' };
}

export async function readStatus(url: string): Promise<ServiceStatus> {
  const body = (await (await fetch(`${url}/api/v1/system/status`)).json()) as { data: ServiceStatus };
  return body.data;
}

/**
 * Longest wait for what a service or link does in the background (a flush, a repair, taking a change
 * up), in real ms: vi.waitFor's own 1 s is short for a loaded machine.
 */
export const WAIT_MS = 10_000;

/** Polls `check` every 100 ms until it holds; throws naming `what` after `limitMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  limitMs: number,
): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (await check().catch(() => false)) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}

/**
 * Waits until the service at `url` reports `role`; 'ingesting' counts only once its exchange
 * streams are connected (binance.state 'connected'). Returns the ms waited; throws after `limitMs`.
 */
export async function waitForIngestion(
  url: string,
  role: 'ingesting' | 'standby',
  limitMs: number,
): Promise<number> {
  return waitUntil(
    `${url} ${role}`,
    async () => {
      const status = await readStatus(url);
      return (
        status.ingestion?.role === role && (role !== 'ingesting' || status.binance.state === 'connected')
      );
    },
    limitMs,
  );
}
