/**
 * Keys of the response cache. The exact key is a hash of the whole request as the provider would
 * get it, so two requests share an entry only when nothing that can change the answer differs.
 * Every field is part of the key unless it is on the short list of fields that cannot change the
 * output; a parameter added to an API later is therefore part of the key until someone decides
 * otherwise.
 */
import { createHash } from 'node:crypto';
import type { WireFormat } from '../providers/types';

/** Top-level request fields that cannot change the response: transport and bookkeeping only. */
export const FIELDS_OUTSIDE_THE_KEY: ReadonlySet<string> = new Set(['model', 'stream', 'stream_options', 'user', 'metadata']);

/** The owner scope whose requests share entries: one key, user, team, or the whole organisation. */
export type CacheNamespaceKind = 'key' | 'user' | 'team' | 'org';

export interface CacheOwner {
  keyId: string;
  userId: string | null;
  teamId: string | null;
}

/**
 * Returns the namespace of a request, such as `team:backend`. A principal without a user or team
 * falls back to its key, so that entries never spread wider than the owner is known.
 */
export function cacheNamespace(kind: CacheNamespaceKind, owner: CacheOwner): string {
  if (kind === 'org') return 'org';
  if (kind === 'team' && owner.teamId !== null) return `team:${owner.teamId}`;
  if ((kind === 'team' || kind === 'user') && owner.userId !== null) return `user:${owner.userId}`;
  return `key:${owner.keyId}`;
}

export interface ExactKeyInput {
  namespace: string;
  /** The inbound format: a response is stored in it. */
  format: WireFormat;
  /** The model_name the request resolved to. */
  alias: string;
  /**
   * The deployments the alias could use, each as its id and the provider model it sends, so a
   * config change that alters them changes the key and each id a wildcard entry serves has its own.
   */
  deploymentIds: readonly string[];
  body: Record<string, unknown>;
  /** Request headers that can change the response, such as anthropic-beta; lower-case names. */
  headers?: Readonly<Record<string, string>>;
}

/** Request headers a provider reads as part of the request, so two values may answer differently. */
export const HEADERS_IN_THE_KEY: readonly string[] = ['anthropic-beta', 'anthropic-version', 'openai-beta'];

/**
 * Returns the namespace for a request's own `cache.namespace`: `sub:<name>@<owner>`. Owner
 * namespaces start with org, team:, user: or key:, and the name cannot contain '@', so a
 * sub-namespace never equals another owner's namespace or another owner's sub-namespace.
 */
export function subNamespace(owner: string, name: string): string {
  return `sub:${name}@${owner}`;
}

/**
 * Serialises a JSON value with object keys sorted, so that key order, which never changes a
 * response, does not split entries. Arrays keep their order. An explicit stack, because a
 * client's JSON may nest deeper than the call stack allows.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  type Item = { value: unknown } | { text: string };
  const stack: Item[] = [{ value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const current = item.value;
    if (Array.isArray(current)) {
      const items: Item[] = [{ text: '[' }];
      current.forEach((element, index) => {
        if (index > 0) items.push({ text: ',' });
        items.push({ value: element === undefined ? null : element });
      });
      items.push({ text: ']' });
      for (let index = items.length - 1; index >= 0; index--) stack.push(items[index]!);
    } else if (typeof current === 'object' && current !== null) {
      const entries = Object.entries(current).filter(([, child]) => child !== undefined);
      // Code-unit order, the same on every machine, unlike localeCompare.
      entries.sort(([left], [right]) => compareCodeUnits(left, right));
      const items: Item[] = [{ text: '{' }];
      entries.forEach(([key, child], index) => {
        if (index > 0) items.push({ text: ',' });
        items.push({ text: `${JSON.stringify(key)}:` }, { value: child });
      });
      items.push({ text: '}' });
      for (let index = items.length - 1; index >= 0; index--) stack.push(items[index]!);
    } else {
      out.push(JSON.stringify(current) ?? 'null');
    }
  }
  return out.join('');
}

function compareCodeUnits(left: string, right: string): number {
  if (left === right) return 0;
  return left < right ? -1 : 1;
}

/** Returns the exact cache key: SHA-256, hex, of the namespace, format, alias, deployment set and body. */
export function exactCacheKey(input: ExactKeyInput): string {
  const body: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input.body)) {
    if (!FIELDS_OUTSIDE_THE_KEY.has(field)) body[field] = value;
  }
  const material = canonicalJson({
    namespace: input.namespace,
    format: input.format,
    alias: input.alias,
    deployments: [...input.deploymentIds].sort(),
    body,
    ...(input.headers === undefined || Object.keys(input.headers).length === 0 ? {} : { headers: input.headers }),
  });
  return createHash('sha256').update(material, 'utf8').digest('hex');
}
