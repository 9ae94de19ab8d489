/**
 * PEM private keys and JSON Web Tokens.
 *
 * Span choice: a private key spans the whole block from `-----BEGIN` to the end of the `-----END …-----`
 * line, also when its newlines are JSON-escaped (`\n`), as in a GCP service-account file. A block
 * pasted without its END line spans to the end of the base64 body. A JWT spans all three segments.
 */
import type { Detector, Finding } from '../../types.js';
import { containsAfter, secretFinding } from './util.js';

const beginLine = /-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----/g;

/** End of a base64 body that has no END line: the last base64 or line-break character before anything else. */
function findBodyEnd(text: string, from: number): number {
  let end = from;
  let lastContent = from;
  while (end < text.length && end - from < 16384) {
    const c = text.charCodeAt(end);
    const isBase64 = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61;
    if (isBase64) {
      lastContent = end + 1;
    } else if (c === 92 && text.charCodeAt(end + 1) === 110) {
      end++; // a JSON-escaped \n
    } else if (c !== 10 && c !== 13 && c !== 32 && c !== 9 && c !== 58 && c !== 44 && c !== 45) {
      break; // header lines such as `Proc-Type: 4,ENCRYPTED` use : , and -
    }
    end++;
  }
  return lastContent;
}

/** Reports whether a block body contains key material rather than `...` or a string concatenation in code. */
function hasKeyBody(body: string): boolean {
  if (/["'`]\s*\+|\+\s*["'`]/.test(body) || body.includes('${')) return false;
  let base64Chars = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47) base64Chars++;
  }
  return base64Chars >= 64;
}

function scanPrivateKeys(text: string, findings: Finding[]): void {
  beginLine.lastIndex = 0;
  for (let match = beginLine.exec(text); match; match = beginLine.exec(text)) {
    const label = match[1] ?? 'PRIVATE KEY';
    const bodyStart = match.index + match[0].length;
    const endLine = `-----END ${label}-----`;
    // A key block is at most a few kilobytes, so the END line is looked for in the next 16 KB only.
    const window = text.slice(bodyStart, bodyStart + 16384);
    const endIndex = window.indexOf(endLine);
    const nextBegin = window.indexOf('-----BEGIN ');
    const end =
      endIndex >= 0 && (nextBegin < 0 || endIndex < nextBegin)
        ? bodyStart + endIndex + endLine.length
        : findBodyEnd(text, bodyStart);
    if (!hasKeyBody(text.slice(bodyStart, end))) continue;

    // A GCP service-account JSON file stores the key in its "private_key" field.
    const before = text.slice(Math.max(0, match.index - 32), match.index);
    const isGcp = /"private_key"\s*:\s*"$/.test(before);
    findings.push(secretFinding(isGcp ? 'gcp_service_account_key' : 'private_key', 0.99, match.index, end));
    beginLine.lastIndex = end;
  }
}

/** A JWT, tried (sticky) only where the text has `eyJ`, the base64url of `{"`. */
const jwtPattern = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/y;

function decodesToJwtHeader(segment: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

function scanJwts(text: string, findings: Finding[]): void {
  // V8 finds the rare capital J many times faster than `eyJ`, whose first letter is common.
  // Tokens do not overlap, so the next one may start only after the end of the last one.
  let resumeAt = 0;
  for (let j = text.indexOf('J', 2); j >= 0; j = text.indexOf('J', j + 1)) {
    const start = j - 2;
    if (start < resumeAt || text.charCodeAt(start) !== 101 /* e */ || text.charCodeAt(j - 1) !== 121 /* y */) continue;
    jwtPattern.lastIndex = start;
    const match = jwtPattern.exec(text);
    if (!match) continue;
    resumeAt = start + match[0].length;
    const header = match[0].slice(0, match[0].indexOf('.'));
    if (!decodesToJwtHeader(header)) continue;
    findings.push(secretFinding('jwt', 0.9, start, resumeAt));
  }
}

export const privateKeyDetector: Detector = {
  types: ['private_key', 'gcp_service_account_key'],
  category: 'secret',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    if (containsAfter(text, 'PRIVATE ', 'KEY')) scanPrivateKeys(text, findings);
    return findings;
  },
};

export const jwtDetector: Detector = {
  types: ['jwt'],
  category: 'secret',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    scanJwts(text, findings);
    return findings;
  },
};
