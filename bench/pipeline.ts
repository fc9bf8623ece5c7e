/**
 * The live pipeline. Throughput: combined-stream kline frames per second from text into the SQLite
 * store (decodeFrame → ingest → write buffer → flush, rollups included), against plain JSON.parse of
 * the same frames in the same run; the same for `!miniTicker@arr` frames. Latency: from a frame's
 * arrival in the real stream client (over a real WebSocket) until GET /price-data/:symbol/latest on
 * the real app returns the new price, against the same GET when nothing changes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { decodeFrame, MINI_TICKER_ARRAY_STREAM } from '../src/binance/decode.js';
import { Agent, get as httpGet } from 'node:http';
import { generatedSymbolNames } from '../src/binance/simulator/symbols.js';
import { combinedFrame, formatUnits8, klineEventJson, type SimKline } from '../src/binance/simulator/wire.js';
import { createStreamClient, klineStream } from '../src/binance/stream-client.js';
import type { WireMiniTicker } from '../src/binance/wire.js';
import { MINUTE_MS } from '../src/domain/intervals.js';
import { SECOND_MS } from '../src/domain/price.js';
import { createIngest } from '../src/market/ingest.js';
import { createLiveState } from '../src/market/live-state.js';
import { createWriteBuffer, FLUSH_INTERVAL_MS } from '../src/market/write-buffer.js';
import { fmt, line, summarize } from './stats.js';
import { buildLiveApp } from './live-app.js';

/** Binance spot USDT symbols the service tracks. */
const SYMBOL_COUNT = 242;
/** Binance pushes a forming 1m kline every 2 s (BINANCE.md 1.3), then the closing `x: true` one. */
const KLINE_UPDATE_SPACING_MS = 2000;
const FORMING_UPDATES_PER_MINUTE = MINUTE_MS / KLINE_UPDATE_SPACING_MS - 1;
const FRAMES_PER_SYMBOL_MINUTE = FORMING_UPDATES_PER_MINUTE + 1;
/** 28 minutes × 30 frames × 242 symbols = 203,280 kline frames. */
const KLINE_MINUTES = 28;
/** What Binance sends for 242 symbols (30 frames per symbol-minute): ~121 frames/s. */
const LIVE_KLINE_FRAMES_PER_SECOND = (SYMBOL_COUNT * FRAMES_PER_SYMBOL_MINUTE * SECOND_MS) / MINUTE_MS;
const START = Date.parse('2025-03-03T00:00:00Z');
/** Each throughput figure is the median of this many runs (each on a fresh store file). */
const RUNS = 3;
/** `!miniTicker@arr` frames of SYMBOL_COUNT tickers, one live second apart. */
const TICKER_FRAMES = 500;

/** Arrival-to-readable samples measured (after the warm-up ones). */
const LATENCY_SAMPLES = 500;
const LATENCY_WARMUP_SAMPLES = 50;
/**
 * Wall time between miniTicker frames in the latency run: 100/s rather than Binance's 1/s, so the
 * run is short; event times follow the wall clock, so the store still gets one sample per symbol per
 * second and the buffer flushes on its own 1000 ms timer, as in the service.
 */
const TICKER_FRAME_SPACING_MS = 10;
/** A sample whose price is not readable within this long fails the run (something is broken). */
const READABLE_TIMEOUT_MS = 2000;
/** The stream client's WebSocket must be open by then, or the run fails instead of hanging. */
const CONNECT_TIMEOUT_MS = 10_000;

const TARGET_KLINE_FRAMES_PER_SECOND = 50_000;
const TARGET_FRACTION_OF_PARSE = 0.25;
const TARGET_READABLE_P99_MS = 5;

const logger = pino({ level: 'silent' });
/** Epoch ms with sub-ms resolution: Date.now's whole ms would hide a sub-ms latency. */
const preciseNow = (): number => performance.timeOrigin + performance.now();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const verdict = (met: boolean, target: string) => (met ? `meets ${target}` : `MISSES ${target}`);

/** A seeded generator in [0, 1): the same frames every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => ((state = (state * 1103515245 + 12345) % 2147483648), state / 2147483648);
}

/** Per symbol: a price level from 0.01 to 10,000 and a tick of five significant digits, in 1e-8 units. */
interface SymbolWalk {
  readonly symbol: string;
  price: bigint;
  readonly tick: bigint;
  readonly lot: bigint;
  nextTradeId: number;
}

function symbolWalks(next: () => number): SymbolWalk[] {
  return generatedSymbolNames(SYMBOL_COUNT).map((symbol) => {
    const level = 10 ** (next() * 6 - 2);
    const units = Math.round(level * 1e8);
    const tick = 10n ** BigInt(Math.max(0, Math.floor(Math.log10(units)) - 4));
    // A lot of about 10 quote units' worth, so volumes look like the symbol's price level.
    const lot = 10n ** BigInt(Math.max(0, Math.min(8, Math.floor(Math.log10(1e9 / level)))));
    return { symbol, price: (BigInt(units) / tick) * tick, tick, lot, nextTradeId: 1_000_000 };
  });
}

/**
 * Kline frames as Binance interleaves them on the wire: every 2 s each symbol's forming candle (29
 * per minute, event time increasing), then its closing `x: true` update, for KLINE_MINUTES minutes.
 */
function klineFrames(): string[] {
  const next = seeded(42);
  const walks = symbolWalks(next);
  const frames: string[] = [];
  for (let minute = 0; minute < KLINE_MINUTES; minute++) {
    const openTime = START + minute * MINUTE_MS;
    const candles = walks.map((walk) => ({
      walk,
      open: walk.price,
      high: walk.price,
      low: walk.price,
      volume: 0n,
      quote: 0n,
      takerVolume: 0n,
      takerQuote: 0n,
      trades: 0,
      firstTradeId: walk.nextTradeId,
    }));
    for (let update = 0; update <= FORMING_UPDATES_PER_MINUTE; update++) {
      const closing = update === FORMING_UPDATES_PER_MINUTE;
      const eventTime = closing ? openTime + MINUTE_MS : openTime + (update + 1) * KLINE_UPDATE_SPACING_MS;
      for (const c of candles) {
        const { walk } = c;
        if (!closing) {
          // The 2 s of trades since the last update: a few ticks of movement, some volume.
          const moved = walk.price + BigInt(Math.round((next() - 0.5) * 20)) * walk.tick;
          walk.price = moved > walk.tick ? moved : walk.tick;
          const trades = 1 + Math.floor(next() * 20);
          const volume = BigInt(trades) * BigInt(1 + Math.floor(next() * 50)) * walk.lot;
          const quote = (volume * walk.price) / 100_000_000n;
          c.trades += trades;
          walk.nextTradeId += trades;
          c.volume += volume;
          c.quote += quote;
          c.takerVolume += volume / 2n;
          c.takerQuote += quote / 2n;
          if (walk.price > c.high) c.high = walk.price;
          if (walk.price < c.low) c.low = walk.price;
        }
        const kline: SimKline = {
          symbol: walk.symbol,
          openTime,
          closeTime: openTime + MINUTE_MS - 1,
          open: formatUnits8(c.open),
          high: formatUnits8(c.high),
          low: formatUnits8(c.low),
          close: formatUnits8(walk.price),
          volume: formatUnits8(c.volume),
          quoteVolume: formatUnits8(c.quote),
          trades: c.trades,
          takerBuyVolume: formatUnits8(c.takerVolume),
          takerBuyQuoteVolume: formatUnits8(c.takerQuote),
          firstTradeId: c.firstTradeId,
          lastTradeId: walk.nextTradeId - 1,
        };
        frames.push(combinedFrame(klineStream(walk.symbol), klineEventJson(kline, eventTime, closing)));
      }
    }
  }
  return frames;
}

/** 24 h figures per symbol for `!miniTicker@arr`; `bump` moves one symbol's price, `walk` all of them. */
function createTickerBoard(seed: number) {
  const next = seeded(seed);
  const walks = symbolWalks(next);
  const open = walks.map((walk) => walk.price);
  const high = walks.map((walk) => walk.price);
  const low = walks.map((walk) => walk.price);
  const volume = walks.map((walk) => walk.lot * 1_000_000n);
  const quote = walks.map((walk, i) => (volume[i]! * walk.price) / 100_000_000n);
  const move = (i: number, steps: bigint): void => {
    const walk = walks[i]!;
    const moved = walk.price + steps * walk.tick;
    walk.price = moved > walk.tick ? moved : walk.tick;
    if (walk.price > high[i]!) high[i] = walk.price;
    if (walk.price < low[i]!) low[i] = walk.price;
    volume[i]! += walk.lot;
    quote[i]! += (walk.lot * walk.price) / 100_000_000n;
  };
  return {
    symbols: walks.map((walk) => walk.symbol),
    walk(): void {
      for (let i = 0; i < walks.length; i++) move(i, BigInt(Math.round((next() - 0.5) * 10)));
    },
    /** Raises one symbol's price by at least a tick, so it differs from every earlier one; returns it. */
    bump(i: number): string {
      move(i, 1n + BigInt(Math.floor(next() * 5)));
      return formatUnits8(walks[i]!.price);
    },
    frame(eventTime: number): string {
      const data: WireMiniTicker[] = walks.map((walk, i) => ({
        e: '24hrMiniTicker',
        E: eventTime,
        s: walk.symbol,
        c: formatUnits8(walk.price),
        o: formatUnits8(open[i]!),
        h: formatUnits8(high[i]!),
        l: formatUnits8(low[i]!),
        v: formatUnits8(volume[i]!),
        q: formatUnits8(quote[i]!),
      }));
      return combinedFrame(MINI_TICKER_ARRAY_STREAM, JSON.stringify(data));
    },
  };
}

/** Plain JSON.parse of every frame: the floor any decoder pays. Returns frames/s. */
function parseRate(frames: readonly string[]): number {
  let streams = 0;
  const started = performance.now();
  for (const frame of frames) {
    const value = JSON.parse(frame) as { stream?: unknown };
    // Reading a field keeps the parse's result alive, as a consumer would.
    if (typeof value.stream === 'string') streams++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (streams !== frames.length) throw new Error('baseline parsed an unexpected frame');
  return frames.length / seconds;
}

/**
 * How the bench flushes the buffer: `wall` as the service does (whenever FLUSH_INTERVAL_MS of wall
 * time has passed since the last flush, checked after every frame, since a tight loop never lets a
 * timer fire); `frames` after every `count` frames, i.e. after each live second of traffic, so
 * updates merge only as much as they do live and the store writes about one row per frame.
 */
type FlushPolicy =
  { readonly kind: 'wall'; readonly ms: number } | { readonly kind: 'frames'; readonly count: number };

/** decodeFrame → ingest.handle → write buffer → flush into a fresh SQLite file; frames/s, final flush included. */
async function pipelineRate(frames: readonly string[], path: string, policy: FlushPolicy): Promise<number> {
  const store = new SqliteStore({ path });
  try {
    const buffer = createWriteBuffer({ store, logger });
    const ingest = createIngest({ liveState: createLiveState(), buffer });
    const started = performance.now();
    let lastFlush = started;
    for (let i = 0; i < frames.length; i++) {
      const decoded = decodeFrame(frames[i]!);
      if (!decoded.ok) throw new Error(`bench frame rejected: ${decoded.reason}`);
      ingest.handle(decoded.event, Date.now());
      if (policy.kind === 'frames') {
        if ((i + 1) % policy.count === 0) await buffer.flush();
      } else {
        const now = performance.now();
        if (now - lastFlush >= policy.ms) {
          await buffer.flush();
          lastFlush = now;
        }
      }
    }
    await buffer.flush();
    const seconds = (performance.now() - started) / 1000;
    // Sanity, not a target: every minute of every symbol stored closed, nothing refused or left to repair.
    const stats = buffer.stats();
    if (stats.refused > 0 || stats.pendingCandles > 0 || ingest.stats().pendingRepairs > 0) {
      throw new Error(`pipeline lost data: ${JSON.stringify({ ...stats, ...ingest.stats() })}`);
    }
    const minutes = frames.length / (SYMBOL_COUNT * FRAMES_PER_SYMBOL_MINUTE);
    const [symbol] = generatedSymbolNames(SYMBOL_COUNT);
    const stored = await store.listCandles({
      symbol: symbol!,
      resolution: '1m',
      from: START,
      to: START + minutes * MINUTE_MS,
    });
    if (stored.length !== minutes || !stored.every((candle) => candle.closed)) {
      throw new Error(`expected ${minutes} closed candles, found ${stored.length}`);
    }
    return frames.length / seconds;
  } finally {
    await store.close();
  }
}

async function benchKlineThroughput(dir: string): Promise<void> {
  const frames = klineFrames();
  const service: FlushPolicy = { kind: 'wall', ms: FLUSH_INTERVAL_MS };
  const liveSecond = Math.round(LIVE_KLINE_FRAMES_PER_SECOND);
  // Warm the JIT on both paths first, so the first measured run is not the slowest for that reason.
  parseRate(frames.slice(0, 20_000));
  await pipelineRate(
    frames.slice(0, SYMBOL_COUNT * FRAMES_PER_SYMBOL_MINUTE),
    join(dir, 'warmup.db'),
    service,
  );

  const parsed: number[] = [];
  const piped: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    parsed.push(parseRate(frames));
    piped.push(await pipelineRate(frames, join(dir, `klines-${run}.db`), service));
  }
  // One run only: it writes about one row (plus rollups) per frame, so it is the slow one.
  const unmerged = await pipelineRate(frames, join(dir, 'klines-unmerged.db'), {
    kind: 'frames',
    count: liveSecond,
  });
  const base = median(parsed);
  const rate = median(piped);
  const ratio = rate / base;
  line(
    `kline frames: ${frames.length.toLocaleString('en-US')}, ${SYMBOL_COUNT} symbols, ${KLINE_MINUTES} min`,
    `live rate ~${fmt(LIVE_KLINE_FRAMES_PER_SECOND, 0)} frames/s`,
  );
  line('baseline JSON.parse of the same frames, frames/s', fmt(base, 0));
  line(
    `pipeline to store, flush each ${FLUSH_INTERVAL_MS} ms wall time, frames/s`,
    `${fmt(rate, 0)} (${fmt(ratio, 3)}x of JSON.parse) ` +
      `${verdict(rate >= TARGET_KLINE_FRAMES_PER_SECOND, `>= ${fmt(TARGET_KLINE_FRAMES_PER_SECOND, 0)}/s`)}, ` +
      `${verdict(ratio >= TARGET_FRACTION_OF_PARSE, `>= ${TARGET_FRACTION_OF_PARSE}x parse`)}`,
  );
  // Not the target's measure: the service flushes on wall time, so a burst merges like the line above.
  line(
    `  worst case: flush each ${liveSecond} frames (1 live s), frames/s`,
    `${fmt(unmerged, 0)} (${fmt(unmerged / base, 3)}x of JSON.parse, ` +
      `${fmt(unmerged / LIVE_KLINE_FRAMES_PER_SECOND, 0)}x the live rate)`,
  );
}

async function benchTickerThroughput(dir: string): Promise<void> {
  const board = createTickerBoard(7);
  const frames: string[] = [];
  for (let i = 0; i < TICKER_FRAMES; i++) {
    board.walk();
    frames.push(board.frame(START + i * SECOND_MS));
  }
  const store = new SqliteStore({ path: join(dir, 'tickers.db') });
  try {
    const buffer = createWriteBuffer({ store, logger });
    const ingest = createIngest({ liveState: createLiveState(), buffer });
    parseRate(frames.slice(0, 200));
    const base = parseRate(frames);
    // Decode and ingest are timed apart from the flush (one per frame: each frame is one live
    // second, and the service flushes every second), so both figures come from one pass.
    let ingestMs = 0;
    let flushMs = 0;
    for (const frame of frames) {
      const started = performance.now();
      const decoded = decodeFrame(frame);
      if (!decoded.ok) throw new Error(`bench frame rejected: ${decoded.reason}`);
      ingest.handle(decoded.event, Date.now());
      const ingested = performance.now();
      await buffer.flush();
      ingestMs += ingested - started;
      flushMs += performance.now() - ingested;
    }
    if (ingest.stats().samples !== TICKER_FRAMES * SYMBOL_COUNT || buffer.stats().refused > 0) {
      throw new Error(
        `expected ${TICKER_FRAMES * SYMBOL_COUNT} price samples: ${JSON.stringify(ingest.stats())}`,
      );
    }
    const rate = TICKER_FRAMES / (ingestMs / 1000);
    line(`!miniTicker@arr frames (${SYMBOL_COUNT} tickers, ${fmt(frames[0]!.length / 1024, 1)} KB)`, '');
    line('  baseline JSON.parse, frames/s', fmt(base, 0));
    line(
      '  decodeFrame + ingest.handle, frames/s',
      `${fmt(rate, 0)} (${fmt(rate / base, 3)}x of JSON.parse)`,
    );
    line(
      `  ... + flush of its ${SYMBOL_COUNT} price samples, frames/s`,
      fmt(TICKER_FRAMES / ((ingestMs + flushMs) / 1000), 0),
    );
  } finally {
    await store.close();
  }
}

/**
 * A lean keep-alive HTTP client: the client shares the server's process and event loop here, so a
 * heavy one (fetch) would be measured as the service's latency.
 */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

function getText(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: keepAlive }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

/** The price the API returns for `url` (as a JSON number, as the route writes it). */
async function latestPrice(url: string): Promise<number> {
  const response = await getText(url);
  const body = JSON.parse(response.text) as { success?: boolean; data?: { price?: unknown } };
  if (response.status !== 200 || !body.success || typeof body.data?.price !== 'number') {
    throw new Error(`${url} answered ${response.status}`);
  }
  return body.data.price;
}

/** One arrival-to-readable sample; `ingestedMs` is the part before any HTTP: decode and ingest. */
interface Sample {
  readonly ms: number;
  readonly ingestedMs: number;
  readonly polls: number;
}

async function benchReadableLatency(dir: string): Promise<void> {
  const board = createTickerBoard(11);
  const { app, ingest, buffer, liveState } = await buildLiveApp({
    dbPath: join(dir, 'latency.db'),
    symbols: board.symbols,
  });
  const exchange = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  // Subscribed at once: the server starts listening in its constructor.
  const exchangeListening = new Promise<void>((resolve, reject) => {
    exchange.once('listening', resolve);
    exchange.once('error', reject);
  });
  /** Set while a frame is in flight: called on its arrival, after the service's own handling. */
  let onArrival: ((receivedAt: number) => void) | undefined;
  try {
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    await exchangeListening;
    const address = exchange.address();
    if (!address || typeof address === 'string') throw new Error('WebSocket server has no port');
    const connected = new Promise<WebSocket>((resolve) => exchange.once('connection', resolve));
    const streamClient = createStreamClient({
      baseUrl: `ws://127.0.0.1:${address.port}`,
      logger,
      now: preciseNow,
      onEvent: (event, receivedAt) => {
        ingest.handle(event, receivedAt);
        if (event.type === 'miniTickers') onArrival?.(receivedAt);
      },
      onResume: () => undefined,
    });
    // As in the service: the tracked symbols, whose miniTickers the decoder keeps.
    streamClient.setSymbols(board.symbols);
    streamClient.start();
    buffer.start();
    try {
      const socket = await Promise.race([connected, sleep(CONNECT_TIMEOUT_MS, undefined, { ref: false })]);
      if (!socket) throw new Error(`the stream client did not connect within ${CONNECT_TIMEOUT_MS} ms`);
      const baseline: number[] = [];
      const readable: number[] = [];
      const ingested: number[] = [];
      let maxPolls = 0;
      let lastEventTime = 0;
      for (let k = 0; k < LATENCY_WARMUP_SAMPLES + LATENCY_SAMPLES; k++) {
        const slot = performance.now();
        const i = k % SYMBOL_COUNT;
        const url = `${origin}/api/v1/price-data/${board.symbols[i]}/latest`;
        // Baseline: the same GET while nothing changes (404 before the symbol's first ticker, so
        // measured only once it has a price).
        if (liveState.latest(board.symbols[i]!)) {
          const started = performance.now();
          await latestPrice(url);
          if (k >= LATENCY_WARMUP_SAMPLES) baseline.push(performance.now() - started);
        }
        board.walk();
        const expected = Number.parseFloat(board.bump(i));
        // Polling starts inside the arrival callback, in the same tick as ingest.handle: nothing
        // runs in between, and the clock starts at the client's own `receivedAt`, before decoding.
        const measured = new Promise<Sample>((resolve, reject) => {
          onArrival = (receivedAt) => {
            onArrival = undefined;
            const ingestedMs = preciseNow() - receivedAt;
            const poll = async (): Promise<Sample> => {
              for (let polls = 1; ; polls++) {
                const price = await latestPrice(url);
                const elapsed = preciseNow() - receivedAt;
                if (price === expected) return { ms: elapsed, ingestedMs, polls };
                if (elapsed > READABLE_TIMEOUT_MS) throw new Error(`price ${expected} never readable`);
              }
            };
            poll().then(resolve, reject);
          };
        });
        lastEventTime = Math.max(Date.now(), lastEventTime + 1);
        socket.send(board.frame(lastEventTime));
        const outcome = await Promise.race([measured, sleep(READABLE_TIMEOUT_MS, undefined, { ref: false })]);
        if (!outcome) throw new Error(`frame ${k} did not arrive within ${READABLE_TIMEOUT_MS} ms`);
        if (k >= LATENCY_WARMUP_SAMPLES) {
          readable.push(outcome.ms);
          ingested.push(outcome.ingestedMs);
          maxPolls = Math.max(maxPolls, outcome.polls);
        }
        const rest = TICKER_FRAME_SPACING_MS - (performance.now() - slot);
        if (rest > 0) await sleep(rest);
      }
      const idle = summarize(baseline);
      const figures = summarize(readable);
      const handled = summarize(ingested);
      line(
        `baseline GET /latest, nothing changing (${baseline.length}), ms`,
        `p50 ${fmt(idle.p50)}, p99 ${fmt(idle.p99)}, max ${fmt(idle.max)}`,
      );
      line(
        `arrival to readable via GET /latest (${readable.length}), ms`,
        `p50 ${fmt(figures.p50)}, p99 ${fmt(figures.p99)}, max ${fmt(figures.max)} ` +
          `(${fmt(figures.p99 / idle.p99, 1)}x baseline p99, max ${maxPolls} GET per sample) ` +
          verdict(figures.p99 < TARGET_READABLE_P99_MS, `p99 < ${TARGET_READABLE_P99_MS} ms`),
      );
      line(
        '  of which arrival to ingested (decode + ingest), ms',
        `p50 ${fmt(handled.p50)}, p99 ${fmt(handled.p99)}, max ${fmt(handled.max)}`,
      );
    } finally {
      streamClient.stop();
      await buffer.stop();
    }
  } finally {
    for (const socket of exchange.clients) socket.terminate();
    await new Promise<void>((resolve) => exchange.close(() => resolve()));
    // Closes the store too (build-app's onClose hook).
    await app.close();
  }
}

export async function benchPipeline(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
  try {
    await benchKlineThroughput(dir);
    await benchTickerThroughput(dir);
    await benchReadableLatency(dir);
  } finally {
    keepAlive.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
