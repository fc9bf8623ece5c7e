/**
 * `npm run bench`: prints every benchmark's figures. Figures, never pass/fail assertions.
 * `npm run bench -- realtime pipeline` runs only the named ones.
 */
import { benchCache } from './cache.js';
import { benchImport } from './import.js';
import { benchPipeline } from './pipeline.js';
import { benchReadApi } from './read-api.js';
import { benchRealtime } from './realtime.js';
import { benchScale } from './scale.js';
import { benchStore } from './store.js';

const BENCHES: readonly { name: string; title: string; run: () => Promise<void> }[] = [
  { name: 'import', title: 'import', run: benchImport },
  { name: 'read-api', title: 'read API: one symbol, a year of 1m candles', run: benchReadApi },
  {
    name: 'pipeline',
    title: 'live pipeline: frames into the store, arrival to readable',
    run: benchPipeline,
  },
  {
    name: 'store',
    title: 'stores: a SQLite file against PostgreSQL, the same writes and reads',
    run: benchStore,
  },
  {
    name: 'realtime',
    title: 'realtime: Socket.IO fan-out, app against a bare socket.io server',
    run: benchRealtime,
  },
  {
    name: 'cache',
    title: 'Redis cache: the sliding window and the writes of an ingested second',
    run: benchCache,
  },
  {
    name: 'scale',
    title: 'scale-out: two instances on one Redis, clients on the one not ingesting',
    run: benchScale,
  },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !BENCHES.some((bench) => bench.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown bench ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}\n`,
  );
  process.exit(2);
}
process.stdout.write(`node ${process.version}, ${new Date().toISOString()}\n`);
// A bench that fails (a server it needs is missing) is reported, and the others still run.
const failed: string[] = [];
for (const bench of BENCHES) {
  if (wanted.length > 0 && !wanted.includes(bench.name)) continue;
  process.stdout.write(`\n== ${bench.title} ==\n`);
  try {
    await bench.run();
  } catch (error) {
    failed.push(bench.name);
    process.stdout.write(`FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}
if (failed.length > 0) {
  process.stdout.write(`\nfailed: ${failed.join(', ')}\n`);
  process.exitCode = 1;
}
