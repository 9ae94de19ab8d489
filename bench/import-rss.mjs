// Import one module and sit idle, so that bench/run.ts can read the RSS the import costs against
// the same script importing nothing. Plain JavaScript, so that it runs both with plain Node.js and
// with `node --import tsx` (which the TypeScript sources need). Argument: a module specifier, or
// "none". Sends { type: 'ready' } over IPC after the import and a 1 s settle, and exits when the
// parent disconnects.
import { setTimeout as sleep } from 'node:timers/promises';

const specifier = process.argv[2];
if (specifier === undefined) {
  process.stderr.write('usage: node [--import tsx] bench/import-rss.mjs MODULE|none\n');
  process.exit(2);
}
if (specifier !== 'none') await import(specifier);
await sleep(1000);
process.send?.({ type: 'ready' });
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
