import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { MIGRATIONS } from '../src/adapters/sqlite/migrations.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('sqlite in memory', () => new SqliteStore({ path: ':memory:' }));

describe('sqlite file store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('applies every migration once and keeps data across a reopen', async () => {
    const path = join(dir, 'nested', 'market.db');
    const first = new SqliteStore({ path });
    expect(first.schemaVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    await first.insertSymbol({
      symbol: 'BTCUSDT',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      status: 'TRADING',
      isActive: true,
    });
    await first.close();
    const second = new SqliteStore({ path });
    expect(second.schemaVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    expect((await second.getSymbol('BTCUSDT'))?.symbol).toBe('BTCUSDT');
    await second.close();
  });
});
