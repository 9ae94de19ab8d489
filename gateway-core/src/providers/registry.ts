import { GatewayError } from '../errors';
import type { ChatProvider, ProviderKind } from './types';

/** The provider adapters by kind; no provider kind is compared outside its own folder. */
export class ProviderRegistry {
  private readonly providers = new Map<ProviderKind, ChatProvider>();

  constructor(providers: ChatProvider[]) {
    for (const provider of providers) this.providers.set(provider.kind, provider);
  }

  get(kind: ProviderKind): ChatProvider {
    const provider = this.providers.get(kind);
    if (!provider) throw new GatewayError('internal', `no provider adapter is registered for '${kind}'`);
    return provider;
  }
}
