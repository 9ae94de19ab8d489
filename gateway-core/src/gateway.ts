import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HashedNgramEmbedder, type Embedder } from './cache/embedders';
import { OllamaEmbedder, OpenAICompatibleEmbedder } from './cache/embedders-http';
import { SemanticTier } from './cache/semantic';
import type { EmbedderSettings } from './cache/settings';
import { CacheStore } from './cache/store';
import type { GatewayConfig } from './config/load';
import { createGovernance, type Governance } from './governance/governance';
import { Guard } from './guard/guard';
import { createApp } from './http/app';
import { isLoopbackHost } from './http/security';
import type { Logger } from './logger';
import { Router } from './pipeline/router';
import { AnthropicProvider } from './providers/anthropic';
import { OllamaProvider } from './providers/ollama';
import { OpenAIProvider } from './providers/openai';
import { ProviderRegistry } from './providers/registry';
import { AuditStore } from './storage/audit';
import { openDatabase, type SqliteDatabase } from './storage/database';
import { loadGuardHashKey } from './storage/guard-key';
import { GuardEventStore } from './storage/guard-events';
import { KeyStore } from './storage/keys';

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  /** How long shutdown waits for in-flight requests before closing their connections; default 10 s. */
  drainTimeoutMs?: number;
  /**
   * Key for the guard's value hashes, at least 16 bytes, such as one kept in the OS keychain.
   * Default: a key file in the data folder, created on first start.
   */
  guardHashKey?: Buffer;
}

export interface Gateway {
  /** The base URL, such as http://127.0.0.1:4000. */
  url: string;
  port: number;
  /** A generated admin key on the first start of a data folder without a master key; null otherwise. */
  generatedAdminKey: string | null;
  keys: KeyStore;
  audit: AuditStore;
  guardEvents: GuardEventStore;
  governance: Governance;
  /** Stop accepting connections, drain in-flight requests, then close the database. */
  close(): Promise<void>;
}

/**
 * Start the gateway: open the database, build the app and listen. The same function runs in the
 * headless CLI, inside the Electron main process and in tests.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const log = logger.child({ component: 'gateway' });
  const db: SqliteDatabase = openDatabase(config.server.dataDir);
  const keys = new KeyStore(db, config.masterKey);
  const audit = new AuditStore(db);
  const guardEvents = new GuardEventStore(db);
  let guard: Guard;
  let governance: Governance;
  let cacheStore: CacheStore;
  let semantic: SemanticTier | null = null;
  try {
    cacheStore = new CacheStore(db, { maxBytes: config.cache.maxBytes, onRemove: (key, semanticKey) => semantic?.remove(key, semanticKey) });
    if (config.cache.enabled && config.cache.semantic.enabled) {
      semantic = new SemanticTier(config.cache.semantic, createEmbedder(config.cache.semantic.embedder));
      const indexed = semantic.rebuild(cacheStore);
      // content_words reads candidates from SQLite per request, so it indexes nothing in memory.
      // The stored count shows how many entries can still serve hits after a restart.
      const stored = db
        .prepare<[number], { count: number }>('SELECT count(*) AS count FROM cache_entries WHERE semantic_key IS NOT NULL AND expires_at > ?')
        .get(Date.now());
      log.info(
        { storedEntries: stored?.count ?? 0, indexedEntries: indexed, lexicalCheck: config.cache.semantic.lexicalCheck, embedder: config.cache.semantic.embedder.kind },
        'semantic cache ready',
      );
    }
    guard = new Guard(config.guard, options.guardHashKey ?? loadGuardHashKey(config.server.dataDir));
    governance = createGovernance(db, {
      isKnownAlias: (alias) => config.aliases.has(alias),
      logger: logger.child({ component: 'governance' }),
      onEvent: (event) => log.info({ budgetEvent: event }, 'budget event'),
    });
    const sync = governance.applyConfig(config.governance);
    for (const warning of sync.warnings) log.warn(warning);
    governance.admission.warm();
  } catch (error) {
    db.close();
    throw error;
  }
  const generatedAdminKey = keys.ensureAdminKey();
  const inFlight = { count: 0 };

  const host = config.server.host;
  if (!isLoopbackHost(host)) {
    log.warn({ host }, 'listening on a non-loopback address: other machines can reach the gateway, protected only by its keys');
    if (config.server.allowedHosts.length === 0 && (host === '0.0.0.0' || host === '::')) {
      log.warn('requests from other machines are rejected until the names they use are listed in airlock.allowed_hosts');
    }
  }
  const router = new Router({ aliases: config.aliases, groupAliases: config.groupAliases, settings: config.router, policy: config.policy });
  const app = createApp({
    router,
    providers: new ProviderRegistry([new OpenAIProvider(), new AnthropicProvider(), new OllamaProvider()]),
    guard,
    governance,
    cache: { settings: config.cache, store: cacheStore, semantic },
    keys,
    audit,
    guardEvents,
    db,
    logger,
    security: {
      extraHosts: [...config.server.allowedHosts, ...(isLoopbackHost(host) || host === '0.0.0.0' || host === '::' ? [] : [host.toLowerCase()])],
      allowedOrigins: config.server.allowedOrigins,
    },
    maxBodyBytes: config.server.maxBodyBytes,
    startedAt: Math.floor(Date.now() / 1000),
    inFlight,
  });

  const server: Server = createServer(app);
  // Streams can run for minutes; the per-deployment timeouts bound upstream calls instead.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.server.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    db.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  log.info({ url, dataDir: config.server.dataDir, models: config.aliases.size }, 'gateway listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const drainTimeout = options.drainTimeoutMs ?? 10_000;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + drainTimeout;
      while (inFlight.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (inFlight.count > 0) log.warn({ inFlight: inFlight.count }, 'drain timed out; closing open connections');
      server.closeAllConnections();
      await closed;
      governance.ledger.flushPending();
      db.close();
      log.info('gateway stopped');
    })();
    return closing;
  };

  return { url, port, generatedAdminKey, keys, audit, guardEvents, governance, close };
}

/** Builds the semantic cache's embedder from the config: built-in, Ollama or OpenAI-compatible. */
function createEmbedder(settings: EmbedderSettings): Embedder {
  if (settings.kind === 'ollama') return new OllamaEmbedder({ baseUrl: settings.apiBase!, model: settings.model! });
  if (settings.kind === 'openai') {
    return new OpenAICompatibleEmbedder({ baseUrl: settings.apiBase!, model: settings.model!, ...(settings.apiKey === null ? {} : { apiKey: settings.apiKey }) });
  }
  return new HashedNgramEmbedder();
}
