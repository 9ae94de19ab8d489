/**
 * Secrets assigned to a name that says what they are: `password = "…"`, `apiKey: '…'`,
 * `"client_secret": "…"`, `DB_PASSWORD=…` in .env files, `export API_TOKEN=…`, `--password=…`,
 * `<password>…</password>`, `?api_key=…` in URLs, and `Authorization: Bearer …` / `Basic …` headers.
 *
 * Span choice: the value without its quotes.
 *
 * The value must look like a literal credential. These do not fire: empty values, placeholders
 * (`changeme`, `<your-key>`, `****`, `xxx`, `example`, `dummy`, `test`), template and environment
 * references (`${DB_PASSWORD}`, `{{ token }}`, `$API_TOKEN`), code expressions
 * (`os.environ["X"]`, `request.form["password"]`, `process.env.TOKEN`, `getToken()`), type
 * annotations (`password: string`), and label text such as `"password": "Mật khẩu"`.
 * NOTE: passphrases with spaces and passwords made only of letters are not reported, because
 * they cannot be told apart from labels and identifiers without more context.
 */
import type { Detector, Finding } from '../../types.js';
import { characterClassCount, isPlaceholder, secretFinding, shannonEntropy } from './util.js';

const keywordPattern =
  /pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|auth[_-]?key|private[_-]?key|credentials?|signing[_-]?key|encryption[_-]?key|master[_-]?key/gi;

/** Normalized name suffixes (lower case, no separators) and the finding type each one implies. */
const nameSuffixes: [string, string][] = [
  ['password', 'generic_password'],
  ['passwd', 'generic_password'],
  ['passphrase', 'generic_password'],
  ['pwd', 'generic_password'],
  ['pass', 'generic_password'],
  ['secret', 'generic_secret'],
  ['secretkey', 'generic_secret'],
  ['privatekey', 'generic_secret'],
  ['signingkey', 'generic_secret'],
  ['encryptionkey', 'generic_secret'],
  ['masterkey', 'generic_secret'],
  ['credential', 'generic_secret'],
  ['credentials', 'generic_secret'],
  ['token', 'generic_token'],
  ['apikey', 'generic_api_key'],
  ['accesskey', 'generic_api_key'],
  ['authkey', 'generic_api_key'],
];

/** Names that end in a secret word but hold no secret, mostly parser and pagination state. */
const nonSecretNames = new Set([
  'pagetoken', 'nextpagetoken', 'nexttoken', 'canceltoken', 'cancellationtoken', 'continuationtoken', 'synctoken',
  'resumetoken', 'lasttoken', 'currenttoken', 'prevtoken', 'previoustoken', 'starttoken', 'endtoken', 'opentoken',
  'closetoken', 'firsttoken', 'nodetoken', 'parsetoken', 'readtoken', 'peektoken', 'bypass', 'compass', 'onepass',
  'firstpass', 'secondpass', 'multipass', 'renderpass', 'subpass', 'surpass', 'encompass', 'trespass',
]);

function isNameChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95 || code === 45;
}

function classifyName(name: string): string | undefined {
  const lastSegment = name.slice(name.lastIndexOf('.') + 1).replace(/^-+/, '');
  const normalized = lastSegment.toLowerCase().replace(/[-_]/g, '');
  if (nonSecretNames.has(normalized)) return undefined;
  for (const [suffix, type] of nameSuffixes) {
    if (!normalized.endsWith(suffix)) continue;
    // Short suffixes need a word boundary: DB_PASS and dbPass, not bypass.
    if (suffix.length <= 4 && normalized.length > suffix.length) {
      const boundary = lastSegment.length - suffix.length;
      const before = lastSegment.charCodeAt(boundary - 1);
      const first = lastSegment.charCodeAt(boundary);
      const isBoundary = before === 95 || before === 45 || (first >= 65 && first <= 90 && !(before >= 65 && before <= 90));
      const isAllCaps = lastSegment === lastSegment.toUpperCase() && (before === 95 || before === 45);
      if (!isBoundary && !isAllCaps) continue;
    }
    return type;
  }
  return undefined;
}

type ValueContext = 'quoted' | 'literal' | 'code';

function looksLikeCredential(value: string, context: ValueContext, type: string, name: string): boolean {
  const minLength = type === 'generic_password' ? 6 : 8;
  if (value.length < minLength || value.length > 400) return false;
  if (isPlaceholder(value)) return false;
  if (/\s/.test(value) || value.includes('://')) return false;
  if (/^(?:\/|\.\.?\/|~\/)/.test(value)) return false;
  const lower = value.toLowerCase();
  if (lower.includes('password') || lower.includes('secret') || lower.includes('token') || lower === name.toLowerCase()) return false;

  const hasDigit = /[0-9]/.test(value);
  const hasSymbol = /[^A-Za-z0-9_.-]/.test(value);
  if (context === 'code') {
    // An unquoted value in code is an expression unless it is long, random and not a dotted path or call.
    if (/[.()[\]]/.test(value)) return false;
    return value.length >= 16 && characterClassCount(value) >= 3 && shannonEntropy(value) >= 3.5;
  }
  const core = value.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (!hasDigit && (!hasSymbol || /^[A-Za-z]+$/.test(core))) {
    // Letters and separators only: identifiers, labels and constant names, unless long and random.
    if (/^(?:[A-Z]?[a-z]+|[A-Z]+)(?:[A-Z][a-z]+|[-_.][A-Za-z][a-z]*)*$/.test(core)) return false; // CamelCase or separated words
    return value.length >= 20 && /[a-z]/.test(value) && /[A-Z]/.test(value) && shannonEntropy(value) >= 3.5;
  }
  // Calls, subscripts and dotted names such as settings.API_KEY or scanner2.scan are code, not literals.
  if (context === 'literal' && (/[([]/.test(value) || /^[A-Za-z_][A-Za-z_]*\d*(?:\.[A-Za-z_][A-Za-z_]*\d*)+$/.test(value))) return false;
  return characterClassCount(value) >= 2 && shannonEntropy(value) >= 2.5;
}

/** Reads a quoted value whose opening quote is at `start`; returns the end of the content or -1. */
function readQuoted(text: string, start: number): number {
  const quote = text.charCodeAt(start);
  for (let i = start + 1; i < text.length && i - start <= 402; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) {
      i++;
      continue;
    }
    if (c === quote) return i;
    if (c === 10) return -1;
  }
  return -1;
}

function isUnquotedTerminator(code: number): boolean {
  // whitespace " ' ` < > , ; ) } ] & and backslash
  return (
    code <= 32 || code === 34 || code === 39 || code === 96 || code === 60 || code === 62 || code === 44 ||
    code === 59 || code === 41 || code === 125 || code === 93 || code === 38 || code === 92
  );
}

function scanAssignments(text: string, findings: Finding[]): void {
  keywordPattern.lastIndex = 0;
  for (let match = keywordPattern.exec(text); match; match = keywordPattern.exec(text)) {
    let nameEnd = match.index + match[0].length;
    while (nameEnd < text.length && nameEnd - match.index < 64 && isNameChar(text.charCodeAt(nameEnd))) nameEnd++;
    keywordPattern.lastIndex = nameEnd;

    // Cheap rejection first: most keyword hits are not followed by an assignment.
    let p = nameEnd;
    const closing = text.charCodeAt(p);
    if (closing === 34 || closing === 39) p++;
    if (text.charCodeAt(p) === 93) p++;
    while (text.charCodeAt(p) === 32 || text.charCodeAt(p) === 9) p++;
    const op = text.charCodeAt(p);
    if (op !== 61 && op !== 58 && op !== 62 && op !== 32) continue;

    let nameStart = match.index;
    while (nameStart > 0 && match.index - nameStart < 64) {
      const c = text.charCodeAt(nameStart - 1);
      if (!isNameChar(c) && c !== 46) break;
      nameStart--;
    }
    const name = text.slice(nameStart, nameEnd);
    const type = classifyName(name);
    if (!type) continue;
    const before = text.charCodeAt(nameStart - 1);

    // The operator.
    let valueStart: number;
    let isXml = false;
    if (op === 61) {
      const next = text.charCodeAt(p + 1);
      if (next === 61) continue; // == and ===
      valueStart = next === 62 ? p + 2 : p + 1; // => in PHP and Ruby
    } else if (op === 58) {
      const next = text.charCodeAt(p + 1);
      if (next === 58) continue; // C++ and Rust paths
      valueStart = next === 61 ? p + 2 : p + 1; // := in Go
    } else if (op === 62) {
      if (before !== 60 || p !== nameEnd) continue; // only <password>value</password>
      valueStart = p + 1;
      isXml = true;
    } else {
      if (!name.startsWith('--')) continue; // only `--password value` on a command line
      valueStart = p;
    }
    while (text.charCodeAt(valueStart) === 32 || text.charCodeAt(valueStart) === 9) valueStart++;

    let first = text.charCodeAt(valueStart);
    // Python string prefixes r"…" and b"…"; an f-string is a template, so it is skipped.
    if ((first === 114 || first === 98) && (text.charCodeAt(valueStart + 1) === 34 || text.charCodeAt(valueStart + 1) === 39)) {
      valueStart++;
      first = text.charCodeAt(valueStart);
    }

    let start: number;
    let end: number;
    let context: ValueContext;
    if (isXml) {
      start = valueStart;
      end = text.indexOf('<', start);
      if (end < 0 || end - start > 400) continue;
      context = 'literal';
    } else if (first === 34 || first === 39 || first === 96) {
      start = valueStart + 1;
      end = readQuoted(text, valueStart);
      if (end < 0) continue;
      if (first === 96 && text.slice(start, end).includes('${')) continue;
      context = 'quoted';
    } else {
      start = valueStart;
      end = start;
      while (end < text.length && end - start <= 400 && !isUnquotedTerminator(text.charCodeAt(end))) end++;
      context = isLiteralContext(text, nameStart, name, op, end) ? 'literal' : 'code';
    }

    const value = text.slice(start, end);
    if (!looksLikeCredential(value, context, type, name)) continue;
    findings.push(secretFinding(type, context === 'code' ? 0.6 : 0.8, start, end));
    keywordPattern.lastIndex = Math.max(keywordPattern.lastIndex, end);
  }
}

/**
 * Reports whether an unquoted value is a literal: a .env, shell, properties or INI line
 * (`NAME=value` at the start of a line, `export NAME=value`), a YAML line (`name: value` up to the
 * end of the line), a command-line flag (`--password=value`) or a URL query parameter (`?token=value`).
 */
function isLiteralContext(text: string, nameStart: number, name: string, op: number, valueEnd: number): boolean {
  if (name.startsWith('-')) return true;
  const before = text.charCodeAt(nameStart - 1);
  if ((before === 63 || before === 38) && op === 61) return true;
  // Only the last 120 characters before the name are read, so a long line costs no more than a short one.
  let lineStart = nameStart;
  while (lineStart > 0 && nameStart - lineStart < 120 && text.charCodeAt(lineStart - 1) !== 10) lineStart--;
  const prefix = text.slice(lineStart, nameStart);
  if (op === 61) {
    // .env, properties and INI lines start at column 0 and do not use camelCase names, unlike code.
    if (/[a-z][A-Z]/.test(name)) return false;
    return /^(?:export\s+|set\s+|setx\s+|ENV\s+|ARG\s+)?["']?$/.test(prefix) || /^\s*export\s+$/.test(prefix) || /(?:^|\s)-[eD]\s*$/.test(prefix);
  }
  // YAML: the key starts the line (after indentation or a list dash) and the value runs to the end of it.
  if (!/^\s*(?:-\s+)?["']?$/.test(prefix)) return false;
  let rest = valueEnd;
  while (text.charCodeAt(rest) === 32 || text.charCodeAt(rest) === 9 || text.charCodeAt(rest) === 13) rest++;
  return rest >= text.length || text.charCodeAt(rest) === 10 || text.charCodeAt(rest) === 35;
}

const authorizationPattern = /\b(Bearer|Basic)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)/g;

function scanAuthorizationHeaders(text: string, findings: Finding[]): void {
  authorizationPattern.lastIndex = 0;
  for (let match = authorizationPattern.exec(text); match; match = authorizationPattern.exec(text)) {
    const value = match[2] ?? '';
    if (isPlaceholder(value) || characterClassCount(value) < 2 || shannonEntropy(value) < 3.5) continue;
    if (/^[A-Za-z]+(?:\.[A-Za-z]+)*$/.test(value)) continue;
    const start = match.index + match[0].length - value.length;
    const type = match[1] === 'Basic' ? 'basic_auth_credentials' : 'bearer_token';
    findings.push(secretFinding(type, 0.8, start, start + value.length));
  }
}

export const genericAssignmentDetector: Detector = {
  types: ['generic_password', 'generic_secret', 'generic_token', 'generic_api_key', 'bearer_token', 'basic_auth_credentials'],
  category: 'secret',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    scanAssignments(text, findings);
    if (text.indexOf('Bearer') >= 0 || text.indexOf('Basic') >= 0) scanAuthorizationHeaders(text, findings);
    return findings;
  },
};
