/**
 * E-mail address detector. It finds each '@' with indexOf and validates the local part and the
 * domain around it, so text without '@' costs one linear search.
 *
 * Accepted: dot-atom local parts (letters, also non-ASCII ones, digits and . _ % + -), plus-addressing, subdomains,
 * Unicode (IDN) labels and punycode TLDs. The domain needs a dot and an alphabetic TLD, except
 * after "mailto:", where a dotless host such as `root@localhost` is clearly an address.
 *
 * Rejected, because none of them is an address:
 * - package scopes and JSDoc tags (`@types/node`, `@param`): nothing before the '@';
 * - package specs and retina image names (`lodash@4.17.21`, `logo@2x.png`): the TLD is a number
 *   or a file extension;
 * - URL userinfo (`https://user@host`, `postgres://app:pw@db.example.com`): the credential
 *   detectors report those;
 * - scp-style SSH targets (`git@github.com:org/repo.git`): `user@host:path` names a login on a
 *   host, not a mailbox.
 * A real author address in a package.json or a licence header is an address and is reported.
 */
import type { Detector, Finding } from '../../types';

const MAX_LOCAL_PART = 64;
/** How far back the URL check looks for "://" in the token before the local part. */
const MAX_TOKEN_LOOKBACK = 256;

/**
 * Domain after the '@' (sticky): labels of letters, digits and hyphens, then an alphabetic TLD
 * or an `xn--` TLD, not followed by more label characters. Every quantifier is bounded.
 */
const DOMAIN = /(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.){1,8}(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})(?![\p{L}\p{N}_-]|\.[\p{L}\p{N}])/uy;
const DOTLESS_HOST = /[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?![\p{L}\p{N}_.-])/uy;

/** File extensions that are not TLDs, seen after '@' in code: `icon@2x.png`, `lib@next.js`. */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'avif',
  'js', 'mjs', 'cjs', 'jsx', 'ts', 'mts', 'cts', 'tsx', 'css', 'scss', 'sass', 'less',
  'json', 'map', 'html', 'htm', 'txt', 'lock', 'yml', 'yaml', 'xml', 'wasm', 'vue', 'php', 'java',
]);

/** A non-ASCII letter, mark or digit, which internationalised addresses (SMTPUTF8) allow in the local part. */
const UNICODE_WORD_CHARACTER = /[\p{L}\p{M}\p{N}]/u;

function isLocalPartChar(code: number): boolean {
  // Lone surrogates fail the test, so an astral character ends the local part.
  if (code >= 0x80) return UNICODE_WORD_CHARACTER.test(String.fromCharCode(code));
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 46 || // .
    code === 95 || // _
    code === 37 || // %
    code === 43 || // +
    code === 45 // -
  );
}

function isWhitespaceOrQuote(code: number): boolean {
  return code <= 32 || code === 34 || code === 39 || code === 96 || code === 60 || code === 40;
}

/** Whether the token that ends at `index` contains "://", making the '@' part of a URL. */
function isUrlUserinfo(text: string, index: number): boolean {
  const floor = Math.max(0, index - MAX_TOKEN_LOOKBACK);
  let cursor = index;
  while (cursor > floor && !isWhitespaceOrQuote(text.charCodeAt(cursor - 1))) cursor--;
  const token = text.slice(cursor, index);
  return token.includes('://');
}

function endsWithMailto(text: string, index: number): boolean {
  return index >= 7 && text.slice(index - 7, index).toLowerCase() === 'mailto:';
}

/** Whether the address is followed by ':' and a path, as in `git@github.com:org/repo.git`. */
function isScpTarget(text: string, end: number): boolean {
  if (text.charCodeAt(end) !== 58) return false; // ':'
  const next = text.charCodeAt(end + 1);
  if (Number.isNaN(next) || next <= 32) return false;
  return !(next >= 48 && next <= 57); // host:port keeps the address
}

function matchDomain(text: string, from: number, afterMailto: boolean): number {
  DOMAIN.lastIndex = from;
  const match = DOMAIN.exec(text);
  if (match) {
    const domain = match[0];
    const tld = domain.slice(domain.lastIndexOf('.') + 1).toLowerCase();
    if (FILE_EXTENSIONS.has(tld)) return -1;
    return from + domain.length;
  }
  if (!afterMailto) return -1;
  DOTLESS_HOST.lastIndex = from;
  const host = DOTLESS_HOST.exec(text);
  return host ? from + host[0].length : -1;
}

export const emailDetector: Detector = {
  types: ['email'],
  category: 'personal',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    let at = text.indexOf('@');
    let resumeFrom = 0;

    while (at >= 0) {
      let start = at;
      while (start > resumeFrom && at - start <= MAX_LOCAL_PART && isLocalPartChar(text.charCodeAt(start - 1))) start--;
      while (start < at && text.charCodeAt(start) === 46) start++; // a local part does not start with '.'
      const tooLong = at - start > MAX_LOCAL_PART;
      const localPart = text.slice(start, at);

      if (start < at && !tooLong && !localPart.endsWith('.') && !localPart.includes('..')) {
        const end = matchDomain(text, at + 1, endsWithMailto(text, start));
        // The URL check scans back over the token, so it runs only for a complete address.
        if (end > 0 && !isScpTarget(text, end) && !isUrlUserinfo(text, start)) {
          findings.push({ type: 'email', category: 'personal', confidence: 0.95, start, end });
          resumeFrom = end;
          at = text.indexOf('@', end);
          continue;
        }
      }
      at = text.indexOf('@', at + 1);
    }
    return findings;
  },
};
