import { GatewayError } from '../errors';
import type { Deployment } from '../providers/types';

/** Resolves the model a client asked for to the ordered deployments to try. */
export class Router {
  constructor(private readonly aliases: Map<string, Deployment[]>) {}

  /** The configured aliases, in config order. */
  names(): string[] {
    return [...this.aliases.keys()];
  }

  /**
   * Candidates for an alias. Until load balancing and fallbacks exist, an alias with several
   * deployments uses its first one (the config loader warns about it).
   */
  resolve(alias: string, mode: 'chat' | 'embedding'): Deployment[] {
    const deployments = this.aliases.get(alias);
    if (!deployments || deployments.length === 0) {
      const names = this.names();
      const available = names.length === 0 ? 'none are configured' : `available: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`;
      throw new GatewayError('model_not_found', `The model '${alias}' does not exist on this gateway (${available}).`, { param: 'model' });
    }
    // Embedding requests go to any deployment (the provider rejects what it cannot embed), because
    // models unknown to the model table default to chat mode.
    const matching = mode === 'embedding' ? deployments : deployments.filter((d) => d.modelInfo.mode === 'chat');
    if (matching.length === 0) {
      throw new GatewayError('invalid_value', `The model '${alias}' is an embedding model; use it with /v1/embeddings.`, { param: 'model' });
    }
    return matching.slice(0, 1);
  }
}
