import { GatewayError } from '../errors';
import type { SecretRef } from '../providers/types';

/**
 * Where provider keys come from. The headless gateway reads `os.environ/NAME` references from
 * the environment; the desktop app adds the OS keychain through its own implementation.
 */
export interface SecretStore {
  /** Returns the value of a reference such as "os.environ/OPENAI_API_KEY", or undefined when unset. */
  lookup(reference: string): string | undefined;
  /** Whether this store understands the reference at all. */
  handles(reference: string): boolean;
}

const envPrefix = 'os.environ/';

export function createEnvSecretStore(env: NodeJS.ProcessEnv = process.env): SecretStore {
  return {
    handles: (reference) => reference.startsWith(envPrefix),
    lookup: (reference) => {
      const value = env[reference.slice(envPrefix.length)];
      return value === undefined || value === '' ? undefined : value;
    },
  };
}

export function isSecretReference(value: string): boolean {
  return value.startsWith(envPrefix);
}

/** A key reference that is resolved at each call, so a missing one fails that call with a clear error. */
export function secretFromReference(reference: string, store: SecretStore, deploymentId: string): SecretRef {
  return {
    source: reference,
    read(): string {
      const value = store.lookup(reference);
      if (value === undefined) {
        throw new GatewayError(
          'upstream_auth',
          `deployment '${deploymentId}' has no provider key: ${reference} is not set. Set it in the gateway's environment and restart.`,
        );
      }
      return value;
    },
  };
}

export function literalSecret(value: string): SecretRef {
  return { source: 'config literal', read: () => value };
}
