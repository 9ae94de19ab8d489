import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, defaultDataDir, loadConfigFile, type ConfigOverrides } from './config/load';
import { GovernanceConfigError } from './governance/config-sync';
import { createEnvSecretStore } from './config/secrets';
import { startGateway } from './gateway';
import { createLogger } from './logger';

const usage = `Usage: npm start -- [options]

Options (each also settable through the environment variable shown):
  --config FILE     YAML config in LiteLLM's proxy layout (AIRLOCK_CONFIG); default <data-dir>/config.yaml if present
  --port N          port to listen on, 0 for any free port (AIRLOCK_PORT); default 4000
  --host ADDRESS    address to listen on (AIRLOCK_HOST); default 127.0.0.1. Anything else is reachable from other machines
  --data-dir DIR    folder for the database (AIRLOCK_DATA_DIR); default ~/.airlock
  --help            show this help
Log level: AIRLOCK_LOG_LEVEL (fatal, error, warn, info, debug, trace); default info.`;

function fail(message: string): never {
  process.stderr.write(`airlock: ${message}\n`);
  process.exit(2);
}

function parsePort(value: string, source: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) fail(`${source} must be a port number from 0 to 65535, not '${value}'`);
  return port;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${usage}`);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const env = process.env;
  const overrides: ConfigOverrides = {};
  const port = values.port ?? env.AIRLOCK_PORT;
  if (port !== undefined) overrides.port = parsePort(port, values.port !== undefined ? '--port' : 'AIRLOCK_PORT');
  const host = values.host ?? env.AIRLOCK_HOST;
  if (host !== undefined) overrides.host = host;
  const dataDir = values['data-dir'] ?? env.AIRLOCK_DATA_DIR;
  if (dataDir !== undefined) overrides.dataDir = dataDir;

  let configPath = values.config ?? env.AIRLOCK_CONFIG ?? null;
  if (configPath === null) {
    const candidate = join(dataDir ?? defaultDataDir(), 'config.yaml');
    if (existsSync(candidate)) configPath = candidate;
  }

  let config;
  try {
    config = loadConfigFile(configPath, createEnvSecretStore(env), overrides);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  const logger = createLogger({ level: env.AIRLOCK_LOG_LEVEL ?? config.server.logLevel });
  const log = logger.child({ component: 'cli' });
  if (configPath === null) log.warn('no config file given (--config or AIRLOCK_CONFIG); starting with no models');
  for (const warning of config.warnings) log.warn({ config: config.path }, warning);

  let gateway;
  try {
    gateway = await startGateway({ config, logger });
  } catch (error) {
    if (error instanceof GovernanceConfigError) fail(`invalid config: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`port ${config.server.port} on ${config.server.host} is already in use; stop the other process or pass --port`);
    if (code === 'EACCES' || code === 'EPERM') fail(`permission denied opening port ${config.server.port} or the data folder ${config.server.dataDir}`);
    if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EROFS' || code === 'ENOENT') {
      fail(`cannot use ${config.server.dataDir} as the data folder (${code}); pass --data-dir with a writable folder`);
    }
    throw error;
  }
  // The banner goes straight to the terminal: the admin key is a secret and never enters the log.
  const lines = [``, `Airlock gateway listening on ${gateway.url}`, `  OpenAI base URL:    ${gateway.url}/v1`, `  Anthropic base URL: ${gateway.url}`];
  if (gateway.generatedAdminKey !== null) {
    lines.push(
      ``,
      `  Admin key (shown once, store it now): ${gateway.generatedAdminKey}`,
      `  Create keys for your tools with: curl -H "Authorization: Bearer <admin key>" -d '{"name":"my-ide"}' ${gateway.url}/airlock/api/keys`,
    );
  } else if (config.masterKey !== null) {
    lines.push(`  Admin: the master key from the config`);
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: draining in-flight requests');
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`airlock: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
