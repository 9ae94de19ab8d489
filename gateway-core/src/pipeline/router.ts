import type { RouterSettings } from '../config/load';
import { GatewayError } from '../errors';
import { resolveModelInfo } from '../models/table';
import type { Deployment } from '../providers/types';
import { DeploymentHealth } from '../routing/health';
import type { CompiledPolicy } from '../routing/policy';
import { orderCandidates, parseRoutingStrategy } from '../routing/strategies';
import type { DeploymentLimits, RoutingInput, RoutingStrategy } from '../routing/types';

export interface RouterOptions {
  /** model_name → deployments in config order; a name containing `*` is a pattern. */
  aliases: Map<string, Deployment[]>;
  /** router_settings.model_group_alias: requested name → model_name. */
  groupAliases?: Map<string, { target: string; hidden: boolean }>;
  settings?: RouterSettings;
  policy?: CompiledPolicy | null;
  /** Clock for health windows and cooldowns; tests pass a fake one. */
  now?: () => number;
}

/** The deployments a request will try, in order, and the reasons for that order. */
export interface RoutePlan {
  /** The model_name (or pattern) the request resolved to. */
  alias: string;
  /** Deployments of that alias in the order the strategy chose. */
  primary: Deployment[];
  /** Policy and strategy reasons, in words a person can read. */
  reasons: string[];
  fallbacks: string[];
  contextWindowFallbacks: string[];
  contentPolicyFallbacks: string[];
}

export interface PlanRequest {
  requested: string;
  mode: 'chat' | 'embedding';
  stream: boolean;
  /** A cheap token estimate for rpm/tpm accounting. */
  estimatedTokens: number;
  /** The normalized view for the routing policy, built only when the auto model is asked for. */
  routingInput?: () => RoutingInput;
}

interface Pattern {
  name: string;
  regex: RegExp;
  deployments: Deployment[];
}

const defaultSettings: RouterSettings = {
  strategy: 'simple-shuffle',
  numRetries: 0,
  retryAfterMs: 0,
  allowedFails: 3,
  cooldownMs: 30_000,
  fallbacks: new Map(),
  contextWindowFallbacks: new Map(),
  contentPolicyFallbacks: new Map(),
};

/**
 * Resolves a requested model to the deployments to try. The auto model applies the routing
 * policy first. The name then resolves to an exact model_name, a model_group_alias or the first
 * matching wildcard model_name, and the strategy orders that alias's deployments by health.
 */
export class Router {
  readonly settings: RouterSettings;
  readonly health: DeploymentHealth;
  readonly strategy: RoutingStrategy;
  private readonly exact = new Map<string, Deployment[]>();
  private readonly patterns: Pattern[] = [];
  private readonly groupAliases: Map<string, { target: string; hidden: boolean }>;
  readonly policy: CompiledPolicy | null;
  /** Deployments made concrete for one requested id of a wildcard entry. */
  private readonly concrete = new Map<string, Deployment>();

  constructor(options: RouterOptions) {
    for (const [name, deployments] of options.aliases) {
      if (name.includes('*')) this.patterns.push({ name, regex: wildcardRegex(name), deployments });
      else this.exact.set(name, deployments);
    }
    this.groupAliases = options.groupAliases ?? new Map();
    this.settings = options.settings ?? defaultSettings;
    this.policy = options.policy ?? null;
    this.strategy = parseRoutingStrategy(this.settings.strategy);
    this.health = new DeploymentHealth({
      allowedFails: this.settings.allowedFails,
      cooldownMs: this.settings.cooldownMs,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** List the model names: exact model_names, visible group aliases and the auto model. */
  names(): string[] {
    const visible = [...this.groupAliases].filter(([, alias]) => !alias.hidden).map(([name]) => name);
    const auto = this.policy ? [this.policy.autoModel] : [];
    return [...new Set([...this.exact.keys(), ...visible, ...auto])];
  }

  /** Return every configured deployment, for the management API. */
  deployments(): Deployment[] {
    return [...this.exact.values(), ...this.patterns.map((p) => p.deployments)].flat();
  }

  plan(request: PlanRequest): RoutePlan {
    const reasons: string[] = [];
    let requested = request.requested;
    if (this.policy && request.mode === 'chat' && this.policy.isAutoModel(requested) && request.routingInput) {
      const decision = this.policy.decide(request.routingInput());
      reasons.push(decision.reason);
      requested = decision.alias;
    }
    const { alias, ordered, reason } = this.candidates(requested, request);
    if (reason !== null) reasons.push(reason);
    return {
      alias,
      primary: ordered,
      reasons,
      fallbacks: this.settings.fallbacks.get(alias) ?? [],
      contextWindowFallbacks: this.settings.contextWindowFallbacks.get(alias) ?? [],
      contentPolicyFallbacks: this.settings.contentPolicyFallbacks.get(alias) ?? [],
    };
  }

  /** Order the deployments of one alias, for the primary alias and for each fallback. */
  candidates(requested: string, request: Omit<PlanRequest, 'requested'>): { alias: string; ordered: Deployment[]; reason: string | null } {
    const found = this.lookup(requested);
    if (!found || found.deployments.length === 0) {
      const names = [...this.names(), ...this.patterns.map((p) => p.name)];
      const available = names.length === 0 ? 'none are configured' : `available: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`;
      throw new GatewayError('model_not_found', `The model '${requested}' does not exist on this gateway (${available}).`, { param: 'model' });
    }
    // Embedding requests go to any deployment (the provider rejects what it cannot embed), because
    // models unknown to the model table default to chat mode.
    const matching = request.mode === 'embedding' ? found.deployments : found.deployments.filter((d) => d.modelInfo.mode === 'chat');
    if (matching.length === 0) {
      throw new GatewayError('invalid_value', `The model '${requested}' is an embedding model; use it with /v1/embeddings.`, { param: 'model' });
    }
    const concrete = matching.map((d) => this.concretize(d, requested));
    if (concrete.length === 1) return { alias: found.alias, ordered: concrete, reason: null };
    const { ordered, reason } = orderCandidates(concrete, this.strategy, this.health, limitsOf, {
      estimatedTokens: request.estimatedTokens,
      stream: request.stream,
    });
    return { alias: found.alias, ordered, reason };
  }

  private lookup(requested: string): { alias: string; deployments: Deployment[] } | undefined {
    const exact = this.exact.get(requested);
    if (exact) return { alias: requested, deployments: exact };
    const group = this.groupAliases.get(requested);
    if (group) return this.lookup(group.target);
    const pattern = this.patterns.find((p) => p.regex.test(requested));
    return pattern ? { alias: pattern.name, deployments: pattern.deployments } : undefined;
  }

  /**
   * Make a wildcard deployment concrete: one whose provider model has a `*`
   * (model: anthropic/claude-*) sends the requested id itself, priced under that id.
   */
  private concretize(deployment: Deployment, requested: string): Deployment {
    if (!deployment.model.includes('*')) return deployment;
    const key = `${deployment.id}\u0000${requested}`;
    let concrete = this.concrete.get(key);
    if (!concrete) {
      const matched = wildcardRegex(deployment.alias).exec(requested)?.[1] ?? requested;
      const model = deployment.alias.includes('*') ? deployment.model.replace('*', matched) : requested;
      concrete = { ...deployment, model, modelInfo: resolveModelInfo(model, deployment.destination) };
      this.concrete.set(key, concrete);
    }
    return concrete;
  }
}

const noLimits: DeploymentLimits = { weight: 1, rpm: null, tpm: null };

function limitsOf(deployment: Deployment): DeploymentLimits {
  return deployment.limits ?? noLimits;
}

/** "claude-*" → /^claude-(.*)$/; the first `*` captures, later ones match anything. */
function wildcardRegex(pattern: string): RegExp {
  const parts = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts[0]}${parts.length > 1 ? '(.*)' : ''}${parts.slice(1).join('.*')}$`);
}
