/**
 * The gateway under test, run in its own process by bench/run.ts. It starts the real gateway the
 * way the headless CLI does (same logger, pino writing to standard output), with one OpenAI
 * deployment pointing at the benchmark stub and a fresh virtual key.
 *
 * Options: --upstream URL (the stub's base URL, without /v1), --model ALIAS (served as openai/ALIAS),
 * --data-dir DIR, --log-level LEVEL (pino level, default warn).
 * Protocol: the parent starts it with an IPC channel. It sends `{ type: 'ready', url, userKey }`
 * once listening, then drains and exits on SIGTERM or when the parent disconnects.
 */
import { parseArgs } from 'node:util';
import { buildConfig } from '../gateway-core/src/config/load';
import { createEnvSecretStore } from '../gateway-core/src/config/secrets';
import { startGateway } from '../gateway-core/src/gateway';
import { createLogger } from '../gateway-core/src/logger';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    model: { type: 'string' },
    'data-dir': { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
  },
  strict: true,
});
const { upstream, model } = values;
const dataDir = values['data-dir'];
if (upstream === undefined || model === undefined || dataDir === undefined) {
  process.stderr.write('bench gateway: --upstream URL, --model ALIAS and --data-dir DIR are required\n');
  process.exit(2);
}

const config = buildConfig(
  {
    model_list: [
      {
        model_name: model,
        litellm_params: { model: `openai/${model}`, api_key: 'os.environ/BENCH_OPENAI_KEY', api_base: `${upstream}/v1` },
      },
    ],
    airlock: { port: 0, log_level: values['log-level'] },
  },
  createEnvSecretStore({ BENCH_OPENAI_KEY: 'sk-bench-not-a-real-key' }),
  { dataDir },
);
const logger = createLogger({ level: config.server.logLevel });
for (const warning of config.warnings) logger.warn(warning);

const gateway = await startGateway({ config, logger, drainTimeoutMs: 2000 });
const userKey = gateway.keys.create('bench', 'user').key;
process.send?.({ type: 'ready', url: gateway.url, userKey });

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  // process.exit (not a kill) lets --cpu-prof write its profile.
  gateway.close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench gateway: shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
process.on('disconnect', stop);
process.on('SIGTERM', stop);
