/**
 * Key=value connection strings: ADO.NET and ODBC `Password=` / `Pwd=`, and Azure Storage
 * `AccountKey=` and `SharedAccessSignature=`, plus Service Bus / Event Hubs `SharedAccessKey=`.
 *
 * Span choice: the value only. A braced ODBC value `{…}` or a quoted ADO.NET value `"…"` spans
 * the text inside the braces or quotes.
 */
import type { Detector, Finding } from '../../types.js';
import { asciiLower, secretWordStarts } from './secret-words.js';
import { containsAfter, isPlaceholder, secretFinding } from './util.js';

/** Keys that mark the surrounding text as a connection string rather than a generic `password=`. */
const connectionStringContext =
  /(?:server|data source|host|hostname|address|addr|database|initial catalog|uid|user id|user|username|driver|dsn|provider|port|trusted_connection|encrypt)\s*=/i;

function isValueTerminator(code: number): boolean {
  // ; newline " ' < and backslash (an escaped quote in JSON or C#)
  return code === 59 || code === 10 || code === 13 || code === 34 || code === 39 || code === 60 || code === 92;
}

/** Reads the value that starts at `start`; returns [valueStart, valueEnd] or undefined. */
function readConnectionValue(text: string, start: number): [number, number] | undefined {
  const open = text.charCodeAt(start);
  if (open === 123 /* { */) {
    // ODBC braced value; `}}` is an escaped closing brace.
    let i = start + 1;
    while (i < text.length && i - start < 512) {
      if (text.charCodeAt(i) === 125) {
        if (text.charCodeAt(i + 1) === 125) {
          i += 2;
          continue;
        }
        return [start + 1, i];
      }
      i++;
    }
    return undefined;
  }
  if (open === 34 || open === 39) {
    // ADO.NET quoted value; a doubled quote is an escaped quote.
    let i = start + 1;
    while (i < text.length && i - start < 512) {
      const c = text.charCodeAt(i);
      if (c === 10) return undefined;
      if (c === open) {
        if (text.charCodeAt(i + 1) === open) {
          i += 2;
          continue;
        }
        return [start + 1, i];
      }
      i++;
    }
    return undefined;
  }
  let end = start;
  while (end < text.length && end - start < 512 && !isValueTerminator(text.charCodeAt(end))) end++;
  while (end > start && (text.charCodeAt(end - 1) === 32 || text.charCodeAt(end - 1) === 9)) end--;
  return end > start ? [start, end] : undefined;
}

function lineAround(text: string, index: number): string {
  const lineStart = Math.max(text.lastIndexOf('\n', index) + 1, index - 400);
  let lineEnd = text.indexOf('\n', index);
  if (lineEnd < 0) lineEnd = text.length;
  return text.slice(lineStart, Math.min(lineEnd, index + 400));
}

/** The start of a `Password=` or `Pwd=` pair, tried (sticky) only where a `pass` or `pwd` starts. */
const passwordKey = /(?:password|pwd)[ \t]*=[ \t]*/iy;

function scanPasswordPairs(text: string, findings: Finding[]): void {
  // Keys do not overlap, so the next one may start only after the end of the last one.
  let resumeAt = 0;
  for (const wordStart of secretWordStarts(text)) {
    if (wordStart < resumeAt || asciiLower(text.charCodeAt(wordStart)) !== 112 /* p */) continue;
    passwordKey.lastIndex = wordStart;
    const match = passwordKey.exec(text);
    if (!match) continue;
    resumeAt = wordStart + match[0].length;
    const before = match.index > 0 ? text.charCodeAt(match.index - 1) : 10;
    // The key starts a pair: after ; { a quote or whitespace, or at the start of the text.
    if (!(before === 59 || before === 123 || before === 34 || before === 39 || before <= 32)) continue;
    const valueStart = match.index + match[0].length;
    if (!connectionStringContext.test(lineAround(text, match.index))) continue;
    const span = readConnectionValue(text, valueStart);
    if (!span) continue;
    const value = text.slice(span[0], span[1]);
    if (isPlaceholder(value)) continue;
    findings.push(secretFinding('connection_string_password', 0.9, span[0], span[1]));
  }
}

/**
 * Reports whether `text` contains a literal that one of the Azure patterns below needs:
 * AccountKey or accountKey, account_key, AZURE_STORAGE_KEY or SharedAccess. Each is found by
 * searching for its part that starts with a capital letter or `_`, rare characters that V8 finds
 * several times faster than a whole literal or an alternation of them.
 */
function hasAzureKeyword(text: string): boolean {
  return (
    containsAfter(text, 'Shared', 'Access') ||
    containsAfter(text, 'ccount', 'Key') ||
    containsAfter(text, 'account', '_key') ||
    containsAfter(text, 'AZURE_STORAGE', '_KEY')
  );
}

function scanAzure(text: string, findings: Finding[]): void {
  const accountKey = /AccountKey\s*=\s*([A-Za-z0-9+/]{86}==)/g;
  for (let match = accountKey.exec(text); match; match = accountKey.exec(text)) {
    const start = match.index + match[0].length - 88;
    findings.push(secretFinding('azure_storage_account_key', 0.95, start, start + 88));
  }
  const jsonAccountKey = /"(?:accountKey|account_key|storageAccountKey|AZURE_STORAGE_KEY)"\s*:\s*"([A-Za-z0-9+/]{86}==)"/g;
  for (let match = jsonAccountKey.exec(text); match; match = jsonAccountKey.exec(text)) {
    const start = match.index + match[0].length - 89;
    findings.push(secretFinding('azure_storage_account_key', 0.9, start, start + 88));
  }
  const sharedKey = /SharedAccessKey\s*=\s*([A-Za-z0-9+/]{42,43}=)/g;
  for (let match = sharedKey.exec(text); match; match = sharedKey.exec(text)) {
    const value = match[1] ?? '';
    const start = match.index + match[0].length - value.length;
    findings.push(secretFinding('azure_shared_access_key', 0.9, start, start + value.length));
  }
  const sas = /SharedAccessSignature\s*=\s*(sv=[^;"'\s<]{20,}sig=[A-Za-z0-9%+/=]{20,})/g;
  for (let match = sas.exec(text); match; match = sas.exec(text)) {
    const value = match[1] ?? '';
    const start = match.index + match[0].length - value.length;
    findings.push(secretFinding('azure_sas_token', 0.9, start, start + value.length));
  }
}

export const connectionKeyValueDetector: Detector = {
  types: ['connection_string_password', 'azure_storage_account_key', 'azure_shared_access_key', 'azure_sas_token'],
  category: 'secret',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    if (text.indexOf('=') < 0) return findings;
    scanPasswordPairs(text, findings);
    // The check costs less than running the four patterns.
    if (hasAzureKeyword(text)) scanAzure(text, findings);
    return findings;
  },
};
