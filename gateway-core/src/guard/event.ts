/**
 * Guard events: one per finding, with what the guard did about it. An event carries a keyed hash
 * of the value, never the value, so repeats of one value can be counted across requests.
 */
import { createHmac } from 'node:crypto';
import type { TextPart } from './parts';
import type { Finding, FindingCategory } from './types';

export type GuardAction = 'block' | 'redact' | 'route_local' | 'allow';

export interface GuardEvent {
  /** Detector type name, such as `email` or `postgres_uri`. */
  type: string;
  category: FindingCategory;
  action: GuardAction;
  /** Path of the text part in the request body, such as `messages[3].content[0].text`. */
  path: string;
  messageIndex: number | null;
  /** UTF-16 offset and length of the value within the text part. */
  offset: number;
  length: number;
  /** `findingHash` of the value. */
  valueHash: string;
}

/** Bytes of the HMAC-SHA-256 output kept in a value hash. */
export const FINDING_HASH_BYTES = 16;

/**
 * Returns HMAC-SHA-256 of the UTF-8 value under `key`, as hex, truncated to FINDING_HASH_BYTES.
 * Without the key, a hash cannot be checked against guessed values (short numbers such as card
 * or ID numbers are easy to enumerate), so the key must stay on the workstation.
 */
export function findingHash(key: Buffer, value: string): string {
  if (key.length < 16) {
    throw new Error(`finding hash key is too short: got ${key.length} bytes, need at least 16 random bytes`);
  }
  return createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, FINDING_HASH_BYTES * 2);
}

/** Builds the event for one finding in one text part. */
export function createGuardEvent(part: TextPart, finding: Finding, action: GuardAction, key: Buffer): GuardEvent {
  return {
    type: finding.type,
    category: finding.category,
    action,
    path: part.location.path,
    messageIndex: part.location.messageIndex,
    offset: finding.start,
    length: finding.end - finding.start,
    valueHash: findingHash(key, part.text.slice(finding.start, finding.end)),
  };
}
