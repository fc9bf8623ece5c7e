/** `npm run bench`: prints every benchmark's figures. Figures, never pass/fail assertions. */
import { benchImport } from './import.js';
import { benchPipeline } from './pipeline.js';
import { benchReadApi } from './read-api.js';
import { benchRealtime } from './realtime.js';

process.stdout.write(`node ${process.version}, ${new Date().toISOString()}\n\n== import ==\n`);
await benchImport();
process.stdout.write('\n== read API: one symbol, a year of 1m candles ==\n');
await benchReadApi();
process.stdout.write('\n== live pipeline: frames into the store, arrival to readable ==\n');
await benchPipeline();
process.stdout.write('\n== realtime: Socket.IO fan-out, app against a bare socket.io server ==\n');
await benchRealtime();
