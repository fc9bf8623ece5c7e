/**
 * Test doubles for HTTP clients: a real node:http server on 127.0.0.1:0 that answers from a script
 * (one step per request, in order) and records every request, and a clock whose sleeps are
 * recorded and either pass at once or wait for `advance()`. No real time is waited on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** The injected clock's time when the request arrived. */
  readonly at: number;
}

export interface CannedResponse {
  readonly status?: number;
  /** Sent as is when a string, otherwise as JSON. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A canned answer, a handler, or `'hang'`: never answer (until the server closes). */
export type Step = CannedResponse | 'hang' | ((request: IncomingMessage, response: ServerResponse) => void);

export interface ScriptedServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Appends steps; each request takes the next one. A request with no step left gets a 404. */
  script(...steps: Step[]): void;
  close(): Promise<void>;
}

export async function startScriptedServer(now: () => number = Date.now): Promise<ScriptedServer> {
  const steps: Step[] = [];
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: request.method ?? '', path: url.pathname, query: url.searchParams, at: now() });
    const step = steps.shift();
    if (step === 'hang') return;
    if (typeof step === 'function') return step(request, response);
    // 404 is not retried by the client under test, so a missing step fails the test at once.
    const canned = step ?? { status: 404, body: { code: -1, msg: `no scripted step for ${url.pathname}` } };
    const body = typeof canned.body === 'string' ? canned.body : JSON.stringify(canned.body ?? {});
    response.writeHead(canned.status ?? 200, { 'content-type': 'application/json', ...canned.headers });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...more) => void steps.push(...more),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * A clock for injected `now()`/`sleep()`. `auto`: every sleep moves time forward by its length and
 * passes after one event-loop turn (so I/O still runs). `manual`: sleeps wait for `advance()`.
 */
export class ScriptedClock {
  time: number;
  /** Every requested sleep, in ms, in call order. */
  readonly sleeps: number[] = [];
  private readonly waiting: { until: number; resolve: () => void }[] = [];

  constructor(
    start: number,
    private readonly mode: 'auto' | 'manual' = 'auto',
  ) {
    this.time = start;
  }

  readonly now = (): number => this.time;

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    this.sleeps.push(ms);
    return new Promise<void>((resolve, reject) => {
      const abort = (): void =>
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      if (this.mode === 'auto') {
        this.time += Math.max(0, ms);
        setImmediate(resolve);
      } else {
        this.waiting.push({ until: this.time + ms, resolve });
      }
    });
  };

  /** Sleeps not yet over (manual mode). */
  get sleeping(): number {
    return this.waiting.length;
  }

  advance(ms: number): void {
    this.time += ms;
    for (const waiter of [...this.waiting]) {
      if (waiter.until > this.time) continue;
      this.waiting.splice(this.waiting.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
}
