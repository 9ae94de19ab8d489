import { GatewayError } from '../errors';
import { resolveModelInfo } from '../models/table';
import type { Deployment } from '../providers/types';

export interface RouterOptions {
  /** model_name → deployments in config order; a name containing `*` is a pattern. */
  aliases: Map<string, Deployment[]>;
  /** router_settings.model_group_alias: requested name → model_name. */
  groupAliases?: Map<string, { target: string; hidden: boolean }>;
}

interface Pattern {
  name: string;
  regex: RegExp;
  deployments: Deployment[];
}

/**
 * Resolves the model a client asked for to the ordered deployments to try: an exact model_name
 * first, then model_group_alias, then wildcard model_names such as "claude-*" in config order.
 */
export class Router {
  private readonly exact = new Map<string, Deployment[]>();
  private readonly patterns: Pattern[] = [];
  private readonly groupAliases: Map<string, { target: string; hidden: boolean }>;
  /** Deployments made concrete for one requested id of a wildcard entry. */
  private readonly concrete = new Map<string, Deployment>();

  constructor(options: RouterOptions) {
    for (const [name, deployments] of options.aliases) {
      if (name.includes('*')) this.patterns.push({ name, regex: wildcardRegex(name), deployments });
      else this.exact.set(name, deployments);
    }
    this.groupAliases = options.groupAliases ?? new Map();
  }

  /** The model names to list: exact model_names and visible group aliases. */
  names(): string[] {
    const visible = [...this.groupAliases].filter(([, alias]) => !alias.hidden).map(([name]) => name);
    return [...new Set([...this.exact.keys(), ...visible])];
  }

  /**
   * Candidates for a requested model. Until load balancing and fallbacks exist, a name with
   * several deployments uses its first one (the config loader warns about it).
   */
  resolve(requested: string, mode: 'chat' | 'embedding'): Deployment[] {
    const deployments = this.lookup(requested);
    if (!deployments || deployments.length === 0) {
      const names = [...this.names(), ...this.patterns.map((p) => p.name)];
      const available = names.length === 0 ? 'none are configured' : `available: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`;
      throw new GatewayError('model_not_found', `The model '${requested}' does not exist on this gateway (${available}).`, { param: 'model' });
    }
    // Embedding requests go to any deployment (the provider rejects what it cannot embed), because
    // models unknown to the model table default to chat mode.
    const matching = mode === 'embedding' ? deployments : deployments.filter((d) => d.modelInfo.mode === 'chat');
    if (matching.length === 0) {
      throw new GatewayError('invalid_value', `The model '${requested}' is an embedding model; use it with /v1/embeddings.`, { param: 'model' });
    }
    return matching.slice(0, 1).map((d) => this.concretize(d, requested));
  }

  private lookup(requested: string): Deployment[] | undefined {
    const exact = this.exact.get(requested);
    if (exact) return exact;
    const group = this.groupAliases.get(requested);
    if (group) return this.exact.get(group.target) ?? this.patternFor(group.target);
    return this.patternFor(requested);
  }

  private patternFor(requested: string): Deployment[] | undefined {
    return this.patterns.find((p) => p.regex.test(requested))?.deployments;
  }

  /**
   * A deployment whose provider model has a `*` (model: anthropic/claude-*) sends the
   * requested id itself, priced from the model table under that id.
   */
  private concretize(deployment: Deployment, requested: string): Deployment {
    if (!deployment.model.includes('*')) return deployment;
    const key = `${deployment.id}\u0000${requested}`;
    let concrete = this.concrete.get(key);
    if (!concrete) {
      const pattern = wildcardRegex(deployment.alias);
      const matched = pattern.exec(requested)?.[1] ?? requested;
      const model = deployment.alias.includes('*') ? deployment.model.replace('*', matched) : requested;
      concrete = { ...deployment, model, modelInfo: resolveModelInfo(model, deployment.destination) };
      this.concrete.set(key, concrete);
    }
    return concrete;
  }
}

/** "claude-*" → /^claude-(.*)$/; the first `*` captures, later ones match anything. */
function wildcardRegex(pattern: string): RegExp {
  const parts = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts[0]}${parts.length > 1 ? '(.*)' : ''}${parts.slice(1).join('.*')}$`);
}
