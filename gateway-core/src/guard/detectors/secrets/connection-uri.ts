/**
 * Credentials inside URIs: `postgres://user:password@host/db`, `mongodb+srv://…`, `redis://:pw@host`,
 * and JDBC URLs that carry `password=` in their parameters.
 *
 * Span choice: the finding covers only the password, from the character after the first `:` of the
 * userinfo to the last `@` before the host, so redacting it leaves the user name and host readable.
 */
import type { Detector, Finding } from '../../types.js';
import { isPlaceholder, secretFinding } from './util.js';

/** Characters that end a URI in running text, code or config. Quotes end it because the URI is usually a string literal. */
function isUriTerminator(code: number): boolean {
  // whitespace, " ' ` < > and backslash (an escaped quote in JSON)
  return code <= 32 || code === 34 || code === 39 || code === 96 || code === 60 || code === 62 || code === 92;
}

function isSchemeChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) ||
    code === 43 || code === 45 || code === 46
  );
}

/** Maps a lower-case scheme (driver suffix included) to a finding type and confidence. */
function classifyScheme(scheme: string): { type: string; confidence: number } {
  const base = scheme.split('+')[0] ?? scheme;
  switch (base) {
    case 'postgres':
    case 'postgresql':
    case 'pgsql':
      return { type: 'postgres_uri', confidence: 0.95 };
    case 'mysql':
    case 'mariadb':
      return { type: 'mysql_uri', confidence: 0.95 };
    case 'mongodb':
      return { type: 'mongodb_uri', confidence: 0.95 };
    case 'redis':
    case 'rediss':
      return { type: 'redis_uri', confidence: 0.9 };
    case 'amqp':
    case 'amqps':
      return { type: 'amqp_uri', confidence: 0.9 };
    case 'mssql':
    case 'sqlserver':
      return { type: 'mssql_uri', confidence: 0.95 };
    default:
      return { type: 'uri_credentials', confidence: 0.7 };
  }
}

/** Reports whether text[schemeStart, schemeEnd) is `http` or `https`, in any case. */
function isHttpScheme(text: string, schemeStart: number, schemeEnd: number): boolean {
  const length = schemeEnd - schemeStart;
  if (length !== 4 && length !== 5) return false;
  for (let i = 0; i < 4; i++) {
    if ((text.charCodeAt(schemeStart + i) | 32) !== 'http'.charCodeAt(i)) return false;
  }
  return length === 4 || (text.charCodeAt(schemeStart + 4) | 32) === 115; // s
}

/** Reports whether an `@` comes before the end of the authority that starts at `authorityStart`, in a URI of a scheme other than a database's. */
function hasAtInAuthority(text: string, authorityStart: number): boolean {
  const maxEnd = Math.min(text.length, authorityStart + 2048);
  for (let i = authorityStart; i < maxEnd; i++) {
    const c = text.charCodeAt(i);
    if (c === 64) return true;
    if (isUriTerminator(c) || c === 63 /* ? */ || c === 47 /* / */ || c === 35 /* # */) return false;
  }
  return false;
}

const databaseTypes = new Set(['postgres_uri', 'mysql_uri', 'mongodb_uri', 'redis_uri', 'amqp_uri', 'mssql_uri']);

function scanCredentialUris(text: string, findings: Finding[]): void {
  let from = 0;
  for (;;) {
    const sep = text.indexOf('://', from);
    if (sep < 0) return;
    from = sep + 3;

    let schemeStart = sep;
    while (schemeStart > 0 && sep - schemeStart < 40 && isSchemeChar(text.charCodeAt(schemeStart - 1))) schemeStart--;
    if (schemeStart === sep) continue;
    // Most URIs are http or https without a userinfo. They are passed over here, before the
    // scheme is copied and classified, because text full of links has thousands of them.
    if (isHttpScheme(text, schemeStart, sep) && !hasAtInAuthority(text, sep + 3)) continue;
    const scheme = text.slice(schemeStart, sep).toLowerCase();
    if (!/^[a-z]/.test(scheme)) continue;

    const authorityStart = sep + 3;
    const { type, confidence } = classifyScheme(scheme);
    const isDatabase = databaseTypes.has(type);
    // A database password may contain unencoded / # ! $ and @, so for database schemes the userinfo
    // ends at the last @ before the query string. For other schemes the authority ends at the first / ? #.
    // Either way the search stops at the end of the URI, at most 2048 characters on.
    const maxEnd = Math.min(text.length, authorityStart + 2048);
    let limit = authorityStart;
    while (limit < maxEnd) {
      const c = text.charCodeAt(limit);
      if (isUriTerminator(c) || c === 63 /* ? */ || (!isDatabase && (c === 47 /* / */ || c === 35 /* # */))) break;
      limit++;
    }
    let at = limit - 1;
    while (at >= authorityStart && text.charCodeAt(at) !== 64) at--;
    if (at < authorityStart) continue;
    let colon = authorityStart;
    while (colon < at && text.charCodeAt(colon) !== 58) colon++;
    if (colon >= at) continue;
    const userinfo = text.slice(authorityStart, at);
    // A database URI with a / before the password colon is a path, not a userinfo (`host/db?x=a@b`).
    if (text.slice(authorityStart, colon).includes('/')) continue;
    const password = text.slice(colon + 1, at);
    if (password.length === 0 || isPlaceholder(password) || /^\*+$/.test(password)) continue;
    if (userinfo.length > 512) continue;
    findings.push(secretFinding(type, confidence, colon + 1, at));
    from = at + 1;
  }
}

/** `password=` inside a JDBC URL, in `?user=u&password=p` or `;user=u;password=p` form. */
function scanJdbcPasswords(text: string, findings: Finding[]): void {
  let from = 0;
  for (;;) {
    const jdbc = text.indexOf('jdbc:', from);
    if (jdbc < 0) return;
    let end = jdbc + 5;
    const maxEnd = Math.min(text.length, jdbc + 4096);
    while (end < maxEnd && !isUriTerminator(text.charCodeAt(end))) end++;
    from = end;

    const url = text.slice(jdbc, end);
    const pattern = /[?&;]password=([^&;]*)/gi;
    for (let match = pattern.exec(url); match; match = pattern.exec(url)) {
      const value = match[1] ?? '';
      if (value.length === 0 || isPlaceholder(value)) continue;
      const start = jdbc + match.index + match[0].length - value.length;
      findings.push(secretFinding('jdbc_password', 0.95, start, start + value.length));
    }
  }
}

export const connectionUriDetector: Detector = {
  types: ['postgres_uri', 'mysql_uri', 'mongodb_uri', 'redis_uri', 'amqp_uri', 'mssql_uri', 'uri_credentials', 'jdbc_password'],
  category: 'secret',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    scanCredentialUris(text, findings);
    scanJdbcPasswords(text, findings);
    return findings;
  },
};
