import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors';
import type { KeyStore, Principal } from '../storage/keys';

/** Return the key a client presented as `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(req: IncomingMessage): string | null {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1]!;
  }
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  return null;
}

export function authenticate(req: IncomingMessage, keys: KeyStore): Principal {
  const key = presentedKey(req);
  if (key === null) {
    throw new GatewayError(
      'invalid_api_key',
      'Missing API key. Send an Airlock key as "Authorization: Bearer <key>" or "x-api-key: <key>".',
    );
  }
  const principal = keys.authenticate(key);
  if (principal === null) {
    throw new GatewayError('invalid_api_key', 'Invalid or revoked API key. Ask an admin for a key, or create one with the admin key: POST /airlock/api/keys.');
  }
  return principal;
}

export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') {
    throw new GatewayError('forbidden', 'This management call needs the admin key; a virtual key can only read the records of its own requests.');
  }
}
