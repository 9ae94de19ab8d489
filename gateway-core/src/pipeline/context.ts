import { randomUUID } from 'node:crypto';
import type { RequestScan } from '../guard/guard';
import type { Logger } from '../logger';
import type { DestinationClass } from '../models/table';
import type { Deployment } from '../providers/types';
import type { AttemptRecord, AuditRecord } from '../storage/audit';
import type { Principal } from '../storage/keys';
import type { UsageRecord } from '../usage/record';

export type InboundApi = 'openai-chat' | 'anthropic-messages' | 'anthropic-count-tokens' | 'openai-embeddings' | 'models';

/**
 * Everything one request decided on its way through the gateway. Each step records here;
 * the audit record is built from it once the response is finished.
 */
export class RequestContext {
  readonly id: string;
  readonly createdAt = Date.now();
  readonly startedAt = performance.now();
  /** Aborted when the client goes away before the response is finished. */
  readonly clientAbort = new AbortController();
  readonly log: Logger;

  principal: Principal | null = null;
  alias: string | null = null;
  stream = false;
  deployment: Deployment | null = null;
  readonly attempts: AttemptRecord[] = [];
  usage: UsageRecord | null = null;
  rawUsage: unknown = null;
  costUsd: number | null = null;
  pricing: string | null = null;
  httpStatus = 0;
  errorKind: string | null = null;
  errorMessage: string | null = null;
  ttftMs: number | null = null;
  readonly flags = new Set<string>();
  /** Why the request went where it did: policy rule, strategy choice, retries and fallbacks. */
  readonly routeReasons: string[] = [];
  /** Request parameters a translation left out, named in x-airlock-ignored-params. */
  readonly ignoredParams = new Set<string>();
  /** The alias the request was meant for when a fallback alias served it. */
  fallbackFrom: string | null = null;
  /** The guard's findings in the request body; null when the guard is off or found nothing. */
  guardScan: RequestScan | null = null;
  /** Whether the guard narrowed the candidates to local deployments (route_local). */
  guardRoutedLocal = false;
  /** The destination classes of the deployments the guard checked, refused or not. */
  readonly guardDestinations = new Set<DestinationClass>();
  /** The model name a budget's downgrade action moved the request away from. */
  budgetDowngradedFrom: string | null = null;
  /** What the response cache did: hit-exact, miss or skip; null when it was not consulted. */
  cacheStatus: string | null = null;
  /** For a cache hit, the cost and the response time in milliseconds of the response it served. */
  cacheHitOf: { costUsd: number | null; latencyMs: number; model: string } | null = null;
  /** The strongest guard action, filled in when the request finishes. */
  guardAction: string | null = null;

  constructor(
    readonly inboundApi: InboundApi,
    readonly client: string | null,
    logger: Logger,
    id: string = newRequestId(),
  ) {
    this.id = id;
    this.log = logger.child({ requestId: this.id });
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  markFirstToken(): void {
    if (this.ttftMs === null) this.ttftMs = round(this.elapsedMs());
  }

  toAuditRecord(): AuditRecord {
    const latency = this.elapsedMs();
    return {
      id: this.id,
      createdAt: this.createdAt,
      keyId: this.principal?.keyId ?? null,
      client: this.client,
      inboundApi: this.inboundApi,
      alias: this.alias,
      provider: this.deployment?.providerLabel ?? null,
      providerModel: this.deployment?.model ?? this.cacheHitOf?.model ?? null,
      deploymentId: this.deployment?.id ?? null,
      stream: this.stream,
      httpStatus: this.httpStatus,
      errorKind: this.errorKind,
      errorMessage: this.errorMessage,
      attempts: this.attempts,
      usage: this.usage,
      rawUsage: this.rawUsage,
      costUsd: this.costUsd,
      pricing: this.pricing,
      latencyMs: round(latency),
      ttftMs: this.ttftMs,
      flags: [...this.flags],
      routeReason: this.routeReasons.length > 0 ? this.routeReasons.join('; ') : null,
      fallbackFrom: this.fallbackFrom,
      guardAction: this.guardAction,
      guardFindings: this.guardScan?.count ?? 0,
      cacheStatus: this.cacheStatus,
      cacheSavedUsd: this.cacheHitOf?.costUsd ?? null,
      cacheSavedMs: this.cacheHitOf === null ? null : round(Math.max(0, this.cacheHitOf.latencyMs - latency)),
    };
  }
}

export function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '')}`;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Return a short client name from the User-Agent (the SDK or tool), not the whole string. */
export function clientFromUserAgent(userAgent: string | undefined): string | null {
  if (!userAgent) return null;
  const known: Array<[RegExp, string]> = [
    [/claude-cli|claude-code/i, 'claude-code'],
    [/\bcline\b/i, 'cline'],
    [/continue/i, 'continue'],
    [/aider/i, 'aider'],
    [/litellm/i, 'litellm'],
    [/^OpenAI\/JS/i, 'openai-node'],
    [/^OpenAI\/Python/i, 'openai-python'],
    [/^Anthropic\/JS/i, 'anthropic-node'],
    [/^Anthropic\/Python/i, 'anthropic-python'],
    [/^curl\//i, 'curl'],
  ];
  for (const [pattern, name] of known) if (pattern.test(userAgent)) return name;
  return userAgent.split(/[\s/]/, 1)[0]!.slice(0, 64) || null;
}
