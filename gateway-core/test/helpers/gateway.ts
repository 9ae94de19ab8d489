import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildConfig } from '../../src/config/load';
import { createEnvSecretStore } from '../../src/config/secrets';
import { startGateway, type Gateway } from '../../src/gateway';
import { createLogger } from '../../src/logger';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  adminKey: string;
  /** A virtual user key created through the management API. */
  userKey: string;
  dataDir: string;
  /** Every log line the gateway wrote. */
  logs: string[];
  stop(): Promise<void>;
}

/** Start a real gateway on port 0 with a temporary data folder and the given config object. */
export async function startTestGateway(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-test-'));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const withServer = { ...config, airlock: { port: 0, ...(config.airlock as object | undefined) } };
  const loaded = buildConfig(withServer, createEnvSecretStore(env), { dataDir });
  const logger = createLogger({ level: 'debug', destination });
  for (const warning of loaded.warnings) logger.warn(warning);
  const gateway = await startGateway({ config: loaded, logger, drainTimeoutMs: 2000 });
  const adminKey = gateway.generatedAdminKey ?? loaded.masterKey!;
  const userKey = gateway.keys.create('test-user', 'user').key;
  return {
    gateway,
    url: gateway.url,
    adminKey,
    userKey,
    dataDir,
    logs,
    async stop() {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
