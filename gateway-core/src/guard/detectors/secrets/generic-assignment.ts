/**
 * Secrets assigned to a name that says what they are: `password = "…"`, `apiKey: '…'`,
 * `"client_secret": "…"`, `DB_PASSWORD=…` in .env files, `export API_TOKEN=…`, command-line flags
 * (`--password=…`, `--db-password …`, MySQL's `-p'…'`), `<password>…</password>`, `?api_key=…` in
 * URLs, and `Authorization: Bearer …` / `Basic …` headers.
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
import { asciiLower, secretWordStarts } from './secret-words.js';
import { characterClassCount, isPlaceholder, secretFinding, shannonEntropy } from './util.js';

/** Words that make `key` a secret word when they come right before it, with an optional `_` or `-`. */
const KEY_PREFIXES = ['api', 'access', 'auth', 'private', 'signing', 'encryption', 'master'];

/** Reports whether `text` has `word` (lower case ASCII) at `start`, ignoring the case of ASCII letters. */
function hasWordAt(text: string, start: number, word: string): boolean {
  if (start < 0) return false;
  for (let i = 0; i < word.length; i++) {
    if (asciiLower(text.charCodeAt(start + i)) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Returns where the secret word that ends in the `key` at `keyStart` begins (`apiKey`,
 * `private_key`, `ENCRYPTION-KEY`), or -1 when no word of KEY_PREFIXES comes right before it.
 * No prefix is a suffix of another, so at most one of them fits.
 */
function keyWordStart(text: string, keyStart: number): number {
  const before = text.charCodeAt(keyStart - 1);
  const separator = before === 95 || before === 45 ? 1 : 0;
  for (const prefix of KEY_PREFIXES) {
    const start = keyStart - separator - prefix.length;
    if (hasWordAt(text, start, prefix)) return start;
  }
  return -1;
}

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

/**
 * The kind of place a value is in, which decides how much it must look like a credential: a
 * quoted string, the value of a command-line flag (a shell word), an unquoted value on a .env,
 * YAML or similar line, or an unquoted value in code, which may be an expression.
 */
type ValueContext = 'quoted' | 'flag' | 'literal' | 'code';

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

/**
 * Looks at each name that contains a secret word: pass (password, passwd, passphrase), pwd,
 * secret, token, credential, or key right after one of KEY_PREFIXES.
 */
function scanAssignments(text: string, findings: Finding[]): void {
  // Names and values do not overlap: after a name, or after a value reported, the next word
  // counts only from `resumeAt` on.
  let resumeAt = 0;
  for (const wordStart of secretWordStarts(text)) {
    if (wordStart < resumeAt) continue;
    let keywordStart = wordStart;
    if (asciiLower(text.charCodeAt(wordStart)) === 107 /* k */) {
      keywordStart = keyWordStart(text, wordStart);
      // The word before `key` may start before `resumeAt`, inside a name already looked at.
      if (keywordStart < resumeAt) continue;
    }
    // The words are made of name characters, so the name ends at the first other character
    // after the word, or 64 characters after the word's start.
    let nameEnd = wordStart;
    while (nameEnd < text.length && nameEnd - keywordStart < 64 && isNameChar(text.charCodeAt(nameEnd))) nameEnd++;
    resumeAt = nameEnd;

    // Cheap rejection first: most keyword hits are not followed by an assignment.
    let p = nameEnd;
    const closing = text.charCodeAt(p);
    if (closing === 34 || closing === 39) p++;
    if (text.charCodeAt(p) === 93) p++;
    const afterName = p;
    while (text.charCodeAt(p) === 32 || text.charCodeAt(p) === 9) p++;
    let op = text.charCodeAt(p);
    if (op !== 61 && op !== 58 && op !== 62) {
      // Whitespace and then no operator: the form of a command-line flag (`--password value`),
      // which is checked once the name is known.
      if (p === afterName || afterName !== nameEnd) continue;
      op = 32;
    }

    let nameStart = keywordStart;
    while (nameStart > 0 && keywordStart - nameStart < 64) {
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
      // Only `--password value` on a command line. MySQL's clients take the password only as
      // `--password=value`; the word after `--password ` is the next argument, such as the database.
      if (!name.startsWith('--') || text.charCodeAt(p) === 45 /* - */ || isMysqlCommandLine(text, nameStart)) continue;
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
      if (name.startsWith('-')) context = 'flag';
      else context = isLiteralContext(text, nameStart, name, op, end) ? 'literal' : 'code';
    }

    const value = text.slice(start, end);
    if (!looksLikeCredential(value, context, type, name)) continue;
    findings.push(secretFinding(type, context === 'code' ? 0.6 : 0.8, start, end));
    resumeAt = Math.max(resumeAt, end);
  }
}

/**
 * Reports whether an unquoted value is a literal: a .env, shell, properties or INI line
 * (`NAME=value` at the start of a line, `export NAME=value`), a YAML line (`name: value` up to the
 * end of the line) or a URL query parameter (`?token=value`).
 */
function isLiteralContext(text: string, nameStart: number, name: string, op: number, valueEnd: number): boolean {
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

/** A MySQL or MariaDB client named as a command before the flag, on the same line. */
const mysqlCommand = /(?:^|[\s;&|(`'"/])(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|mariadb|mariadb-dump|mariadb-admin)(?:\.exe)?\s/;

function isMysqlCommandLine(text: string, flagStart: number): boolean {
  const lineStart = Math.max(text.lastIndexOf('\n', flagStart - 1) + 1, flagStart - 400);
  return mysqlCommand.test(text.slice(lineStart, flagStart));
}

/**
 * Finds MySQL's short password flag, which takes its value attached: `-p'S3cret!'`, `-p"S3cret!"`
 * or `-pS3cret!`. Many other commands have a `-p` flag (`mkdir -p`, `cp -p`, `ssh -p2222`), so an
 * unquoted value counts only on the command line of a MySQL or MariaDB client. A quoted value
 * counts after any command, because other tools do not quote an attached `-p` value.
 */
function scanShortPasswordFlags(text: string, findings: Finding[]): void {
  for (let flag = text.indexOf('-p'); flag >= 0; flag = text.indexOf('-p', flag + 2)) {
    const before = text.charCodeAt(flag - 1);
    if (flag > 0 && before !== 32 && before !== 9 && before !== 10) continue;
    const valueStart = flag + 2;
    const first = text.charCodeAt(valueStart);
    let start: number;
    let end: number;
    let context: ValueContext;
    if (first === 34 || first === 39) {
      start = valueStart + 1;
      end = readQuoted(text, valueStart);
      if (end < 0) continue;
      context = 'quoted';
    } else {
      if (Number.isNaN(first) || isUnquotedTerminator(first) || first === 45 || !isMysqlCommandLine(text, flag)) continue;
      start = valueStart;
      end = start;
      while (end < text.length && end - start <= 400 && !isUnquotedTerminator(text.charCodeAt(end))) end++;
      context = 'flag';
    }
    const value = text.slice(start, end);
    if (!looksLikeCredential(value, context, 'generic_password', '-p')) continue;
    findings.push(secretFinding('generic_password', 0.8, start, end));
  }
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
    scanShortPasswordFlags(text, findings);
    if (text.indexOf('Bearer') >= 0 || text.indexOf('Basic') >= 0) scanAuthorizationHeaders(text, findings);
    return findings;
  },
};
