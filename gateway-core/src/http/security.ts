import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors';

/** Host and Origin checks: the listener accepts loopback names only, and browsers on the allowlist only. */
export interface SecurityPolicy {
  /** Extra host names accepted besides loopback (the bind address when it is not loopback). */
  extraHosts: string[];
  /** Origins allowed for browser requests (scheme://host[:port]). */
  allowedOrigins: string[];
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  const name = hostname.toLowerCase();
  return loopbackHosts.has(name) || name.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** Return the host name of a Host header value without the port; IPv6 literals keep their brackets. */
export function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end === -1 ? hostHeader : hostHeader.slice(0, end + 1);
  }
  const colon = hostHeader.indexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

/** Reject DNS-rebinding hosts; a request without a Host header (HTTP/1.0 tools) is allowed. */
export function checkHost(req: IncomingMessage, policy: SecurityPolicy): void {
  const host = req.headers.host;
  if (host === undefined) return;
  const hostname = hostnameOf(host);
  if (isLoopbackHost(hostname) || policy.extraHosts.includes(hostname.toLowerCase())) return;
  throw new GatewayError(
    'forbidden',
    `Host '${asciiOnly(host)}' is not allowed: the gateway accepts loopback names such as 127.0.0.1 and localhost, and the names listed in airlock.allowed_hosts.`,
  );
}

/** Return whether a browser origin may call the gateway: one on the allowlist, or the gateway's own loopback origin. */
export function originAllowed(origin: string, policy: SecurityPolicy, req: IncomingMessage): boolean {
  if (policy.allowedOrigins.includes(origin)) return true;
  const host = req.headers.host;
  if (host === undefined) return false;
  return origin === `http://${host}` && isLoopbackHost(hostnameOf(host));
}

export function checkOrigin(req: IncomingMessage, policy: SecurityPolicy): string | null {
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  if (originAllowed(origin, policy, req)) return origin;
  throw new GatewayError(
    'forbidden',
    `Origin '${asciiOnly(origin)}' is not allowed. Add it to airlock.allowed_origins in the config to let that page call the gateway.`,
  );
}

const allowedMethods = 'GET, POST, DELETE, OPTIONS';

/** Headers for an allowed browser origin on a normal response. */
export function setCorsHeaders(res: ServerResponse, origin: string): void {
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-expose-headers', 'x-airlock-request-id, x-airlock-emulated, retry-after, x-should-retry');
}

/** Answer a CORS preflight, including Chrome's Private Network Access request. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse, origin: string): void {
  setCorsHeaders(res, origin);
  res.setHeader('access-control-allow-methods', allowedMethods);
  const requested = req.headers['access-control-request-headers'];
  res.setHeader('access-control-allow-headers', typeof requested === 'string' ? requested : 'authorization, content-type, x-api-key');
  if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('access-control-allow-private-network', 'true');
  res.setHeader('access-control-max-age', '600');
  res.writeHead(204);
  res.end();
}

/** Keep header-derived text printable ASCII before putting it in a message. */
function asciiOnly(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
