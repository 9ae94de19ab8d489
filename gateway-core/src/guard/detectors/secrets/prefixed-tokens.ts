/**
 * API keys and tokens that carry a vendor prefix. One combined regular expression is tried at each
 * place a token can start inside a run of token characters at least as long as the shortest token.
 *
 * Span choice: the whole token, prefix included, because the prefix alone is not secret and the
 * redaction placeholder already names the type. A Slack webhook spans the whole URL.
 *
 * Formats (prefix, body charset and length) follow each vendor's published token format where one
 * exists, else the format observed in their documentation examples:
 * - Stripe test-mode keys (`sk_test_`, `rk_test_`) are reported as `stripe_test_secret_key` with
 *   lower confidence. They authenticate against the account's test-mode data, so they stay secrets,
 *   but policy can allow that type on its own. Publishable keys (`pk_…`) are public and not reported.
 * - A Twilio account SID (`AC` + 32 hex) identifies an account and is reported with low confidence;
 *   an API key SID (`SK` + 32 hex) is reported as a credential.
 */
import type { Detector, Finding } from '../../types.js';
import { secretFinding, shannonEntropy } from './util.js';

interface TokenRule {
  type: string;
  confidence: number;
  /** Regular-expression source of the whole token; it must not contain capturing groups. */
  pattern: string;
}

// Order matters where prefixes overlap: the specific `sk-ant-`, `sk-or-` and `sk-airlock-` rules come
// before the OpenAI rules.
const rules: TokenRule[] = [
  { type: 'anthropic_admin_key', confidence: 0.99, pattern: String.raw`sk-ant-admin\d\d-[A-Za-z0-9_-]{80,120}` },
  { type: 'anthropic_api_key', confidence: 0.99, pattern: String.raw`sk-ant-(?:api|oat|ort)\d\d-[A-Za-z0-9_-]{80,120}` },
  { type: 'openrouter_api_key', confidence: 0.99, pattern: String.raw`sk-or-v1-[a-f0-9]{64}` },
  { type: 'airlock_api_key', confidence: 0.99, pattern: String.raw`sk-airlock-[A-Za-z0-9_-]{43}` },
  { type: 'openai_api_key', confidence: 0.97, pattern: String.raw`sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,250}` },
  { type: 'openai_api_key', confidence: 0.9, pattern: String.raw`sk-[A-Za-z0-9]{48}` },
  { type: 'github_token', confidence: 0.99, pattern: String.raw`gh[pousr]_[A-Za-z0-9]{36,251}` },
  { type: 'github_token', confidence: 0.99, pattern: String.raw`github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59,230}` },
  { type: 'gitlab_token', confidence: 0.97, pattern: String.raw`gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]{2,})*` },
  { type: 'slack_token', confidence: 0.97, pattern: String.raw`xox[abposre]-[0-9]{6,}-[0-9A-Za-z-]{8,}` },
  { type: 'slack_token', confidence: 0.97, pattern: String.raw`xapp-\d-[A-Z0-9]{8,}-\d{8,}-[a-z0-9]{32,}` },
  { type: 'slack_webhook_url', confidence: 0.97, pattern: String.raw`https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{20,}` },
  { type: 'stripe_secret_key', confidence: 0.98, pattern: String.raw`[sr]k_live_[A-Za-z0-9]{20,247}` },
  { type: 'stripe_test_secret_key', confidence: 0.7, pattern: String.raw`[sr]k_test_[A-Za-z0-9]{20,247}` },
  { type: 'stripe_webhook_secret', confidence: 0.95, pattern: String.raw`whsec_[A-Za-z0-9+/]{32,}` },
  { type: 'twilio_api_key', confidence: 0.8, pattern: String.raw`SK[0-9a-f]{32}` },
  { type: 'twilio_account_sid', confidence: 0.5, pattern: String.raw`AC[0-9a-f]{32}` },
  { type: 'sendgrid_api_key', confidence: 0.98, pattern: String.raw`SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}` },
  { type: 'npm_token', confidence: 0.97, pattern: String.raw`npm_[A-Za-z0-9]{36}` },
  { type: 'pypi_token', confidence: 0.99, pattern: String.raw`pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}` },
  { type: 'google_api_key', confidence: 0.9, pattern: String.raw`AIza[0-9A-Za-z_-]{35}` },
  { type: 'google_oauth_client_secret', confidence: 0.95, pattern: String.raw`GOCSPX-[A-Za-z0-9_-]{28}` },
  { type: 'huggingface_token', confidence: 0.9, pattern: String.raw`hf_[A-Za-z0-9]{34}` },
  { type: 'groq_api_key', confidence: 0.95, pattern: String.raw`gsk_[A-Za-z0-9]{52}` },
  { type: 'replicate_api_token', confidence: 0.9, pattern: String.raw`r8_[A-Za-z0-9]{37}` },
  { type: 'digitalocean_token', confidence: 0.97, pattern: String.raw`do[opr]_v1_[a-f0-9]{64}` },
  { type: 'shopify_token', confidence: 0.95, pattern: String.raw`shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}` },
  { type: 'linear_api_key', confidence: 0.95, pattern: String.raw`lin_api_[A-Za-z0-9]{40}` },
  { type: 'xai_api_key', confidence: 0.95, pattern: String.raw`xai-[A-Za-z0-9]{80}` },
  { type: 'databricks_token', confidence: 0.85, pattern: String.raw`dapi[a-f0-9]{32}` },
  { type: 'age_secret_key', confidence: 0.99, pattern: String.raw`AGE-SECRET-KEY-1[0-9A-Z]{58}` },
];

/** Every rule, tried only at a candidate start (sticky), so the text is not searched position by position. */
const combined = new RegExp(
  rules.map((rule) => `(${rule.pattern})`).join('|') + String.raw`(?![A-Za-z0-9_-])`,
  'y',
);

/** The shortest token any rule matches (a Slack `xoxb-` token: 5 + 6 + 1 + 8 characters). */
const MIN_TOKEN_LENGTH = 20;

/** ASCII characters that can appear in a token, the Slack webhook URL included: A-Z a-z 0-9 _ - . + / : */
const tokenAlphabet = new Uint8Array(128);
for (const character of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.+/:') {
  tokenAlphabet[character.charCodeAt(0)] = 1;
}

function isInTokenAlphabet(code: number): boolean {
  return code < 128 && tokenAlphabet[code] === 1;
}

/**
 * Expands the first `count` atoms of a pattern, each a literal character or a class such as
 * `[sr]` without ranges, into the strings a match can start with.
 */
function leadingStrings(pattern: string, count: number): string[] {
  let prefixes = [''];
  let index = 0;
  for (let atom = 0; atom < count; atom++) {
    let choices: string[];
    if (pattern[index] === '[') {
      const close = pattern.indexOf(']', index);
      choices = [...pattern.slice(index + 1, close)];
      index = close + 1;
    } else {
      choices = [pattern[index]!];
      index++;
    }
    if (choices.some((choice) => !/^[A-Za-z0-9_]$/.test(choice))) {
      throw new Error(`prefixed token pattern ${pattern} must start with ${count} letters, digits or classes of them`);
    }
    prefixes = prefixes.flatMap((prefix) => choices.map((choice) => prefix + choice));
  }
  return prefixes;
}

/** The first two characters a match of some rule starts with, indexed by `first * 128 + second`. */
const tokenOpenings = new Uint8Array(128 * 128);
for (const rule of rules) {
  for (const opening of leadingStrings(rule.pattern, 2)) {
    tokenOpenings[opening.charCodeAt(0) * 128 + opening.charCodeAt(1)] = 1;
  }
}

function isTokenChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95 || code === 45;
}

/** Rejects documentation stand-ins such as `ghp_xxxxxxxx…`, `sk-…EXAMPLE…` or `AIza000000…`. */
function isPlausibleToken(token: string, rule: TokenRule): boolean {
  if (/example|xxxxxxxx|XXXXXXXX|0{8}|1234567890abcdef/i.test(token)) return false;
  if (rule.type === 'huggingface_token' && !(/[a-z]/.test(token.slice(3)) && /[A-Z]/.test(token.slice(3)))) return false;
  return shannonEntropy(token) >= 3;
}

/**
 * Tries the rules at every start inside one run of token-alphabet characters, [runStart, runEnd).
 * A token starts where the character before it is not a letter, digit, '_' or '-': at the start
 * of the run or after '.', '+', '/' or ':'.
 */
function scanRun(text: string, runStart: number, runEnd: number, findings: Finding[]): void {
  let start = runStart;
  while (start + MIN_TOKEN_LENGTH <= runEnd) {
    const isCandidate =
      (start === runStart || !isTokenChar(text.charCodeAt(start - 1))) &&
      tokenOpenings[text.charCodeAt(start) * 128 + text.charCodeAt(start + 1)] === 1;
    if (!isCandidate) {
      start++;
      continue;
    }
    combined.lastIndex = start;
    const match = combined.exec(text);
    if (match === null) {
      start++;
      continue;
    }
    const groupIndex = match.findIndex((group, index) => index > 0 && group !== undefined);
    const rule = rules[groupIndex - 1];
    if (rule && isPlausibleToken(match[0], rule)) {
      findings.push(secretFinding(rule.type, rule.confidence, start, start + match[0].length));
    }
    // Matches do not overlap: the next token can start only after this one.
    start += match[0].length;
  }
}

export const prefixedTokenDetector: Detector = {
  types: [...new Set(rules.map((rule) => rule.type))],
  category: 'secret',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    // Every token is a run of at least MIN_TOKEN_LENGTH token-alphabet characters, so probing
    // one position in every MIN_TOKEN_LENGTH finds each run that is long enough, and the rules
    // run only inside those runs.
    const length = text.length;
    let probe = MIN_TOKEN_LENGTH - 1;
    while (probe < length) {
      if (!isInTokenAlphabet(text.charCodeAt(probe))) {
        probe += MIN_TOKEN_LENGTH;
        continue;
      }
      let runStart = probe;
      while (runStart > 0 && isInTokenAlphabet(text.charCodeAt(runStart - 1))) runStart--;
      let runEnd = probe + 1;
      while (runEnd < length && isInTokenAlphabet(text.charCodeAt(runEnd))) runEnd++;
      if (runEnd - runStart >= MIN_TOKEN_LENGTH) scanRun(text, runStart, runEnd, findings);
      // The character at runEnd is outside the alphabet, so the next run starts after it.
      probe = runEnd + MIN_TOKEN_LENGTH;
    }
    return findings;
  },
};
