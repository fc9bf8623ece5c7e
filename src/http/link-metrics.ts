/**
 * The live link's figures as Prometheus gauges, read from its status at scrape time (nothing is
 * counted twice and nothing runs per frame).
 */
import { Gauge, type Registry } from 'prom-client';
import type { LiveLink, LiveLinkStatus } from '../market/live-link.js';

type Reading = (status: LiveLinkStatus) => number;

const GAUGES: readonly [name: string, help: string, read: Reading][] = [
  [
    'binance_connected',
    '1 when every stream connection is subscribed',
    (s) => (s.binance.state === 'connected' ? 1 : 0),
  ],
  ['binance_connections', 'Open stream connections', (s) => s.binance.connections],
  ['binance_streams', 'Subscribed streams', (s) => s.binance.streams],
  ['binance_reconnects', 'Reconnects since start', (s) => s.binance.reconnects],
  [
    'binance_replacements',
    'Connection replacements (23 h, serverShutdown) since start',
    (s) => s.binance.replacements,
  ],
  ['binance_malformed_frames', 'Frames rejected by the decoder since start', (s) => s.binance.malformed],
  ['symbols_tracked', 'Symbols tracked live', (s) => s.symbols.tracked],
  ['symbols_stale', 'Tracked symbols with no update for a minute while others flow', (s) => s.symbols.stale],
  ['repair_queued', 'Symbols waiting for gap repair', (s) => s.repair.queued],
  ['repair_candles_stored', 'Candles stored by gap repair since start', (s) => s.repair.candlesStored],
  ['repair_failures', 'Failed gap repairs since start', (s) => s.repair.failures],
  ['writes_pending_candles', 'Candles waiting in the write buffer', (s) => s.writes.pendingCandles],
  ['writes_pending_samples', 'Price samples waiting in the write buffer', (s) => s.writes.pendingSamples],
  ['writes_failed_flushes', 'Failed flushes since start', (s) => s.writes.failedFlushes],
  ['writes_refused', 'Updates refused by a full write buffer since start', (s) => s.writes.refused],
];

export function registerLinkMetrics(registry: Registry, live: Pick<LiveLink, 'status'>): void {
  for (const [name, help, read] of GAUGES) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(live.status()));
      },
    });
  }
}
