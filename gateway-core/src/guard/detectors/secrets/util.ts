/** Helpers shared by the secret detectors. */
import type { Finding } from '../../types.js';

export function secretFinding(type: string, confidence: number, start: number, end: number): Finding {
  return { type, category: 'secret', confidence, start, end };
}

/**
 * Reports whether `text` contains `prefix` immediately followed by `suffix`. Only `suffix` is
 * searched for, so split the literal where a rare character starts. V8's `indexOf` skips ahead
 * to each place of the pattern's first character, which is fast for a capital letter and slow
 * for a common lower-case one.
 */
export function containsAfter(text: string, prefix: string, suffix: string): boolean {
  for (let index = text.indexOf(suffix); index >= 0; index = text.indexOf(suffix, index + 1)) {
    if (index >= prefix.length && text.startsWith(prefix, index - prefix.length)) return true;
  }
  return false;
}

/** Shannon entropy of `value` in bits per character. */
export function shannonEntropy(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Number of character classes (lower case, upper case, digit, other) present in `value`. */
export function characterClassCount(value: string): number {
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let other = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 97 && c <= 122) lower = 1;
    else if (c >= 65 && c <= 90) upper = 1;
    else if (c >= 48 && c <= 57) digit = 1;
    else other = 1;
  }
  return lower + upper + digit + other;
}

const placeholderWords = new Set([
  'changeme', 'change_me', 'change-me', 'password', 'passwd', 'pass', 'pwd', 'secret', 'token', 'apikey',
  'api_key', 'api-key', 'example', 'dummy', 'test', 'testing', 'sample', 'none', 'null', 'nil', 'undefined',
  'true', 'false', 'string', 'str', 'todo', 'tbd', 'redacted', 'hidden', 'masked', 'default', 'admin',
  'root', 'user', 'username', 'guest', 'foo', 'bar', 'foobar', 'baz', 'qwerty', 'letmein', 'value',
  'mypassword', 'mysecret', 'mytoken', 'secret123', 'password123', 'password1', 'abc123', '123456',
  '12345678', 'required', 'optional', 'empty', 'unset', 'notset', 'n/a', 'na', 'xxx', 'your_token',
]);

/** Words that mark a value as a stand-in that a person is meant to replace. */
const placeholderFragments = [
  'your', 'example', 'placeholder', 'changeme', 'change_me', 'change-me', 'replace', 'insert', 'dummy',
  'redacted', 'xxxx', '****', '....', 'sample', 'fake', 'notreal', 'not_real', 'not-real', 'secret_here',
  'here>', 'goes_here', '_here', '-here',
];

/**
 * Reports whether `value` is a placeholder, a template reference or a masked value rather than a
 * credential: `changeme`, `<your-key>`, `${DB_PASSWORD}`, `{{ token }}`, `%(pw)s`, `****`, `xxxx`.
 */
export function isPlaceholder(value: string): boolean {
  const lower = value.toLowerCase();
  if (placeholderWords.has(lower)) return true;
  const first = value.charCodeAt(0);
  // $VAR, ${VAR}, $(cmd), %VAR%, %s, {{ x }}, {x}, <x>, #{x}, [x], :param, @var
  if (first === 36 || first === 37 || first === 123 || first === 60 || first === 91 || first === 58 || first === 64) return true;
  if (lower.startsWith('#{') || lower.includes('${') || lower.includes('{{')) return true;
  if (/^(.)\1+$/.test(value)) return true;
  for (const fragment of placeholderFragments) {
    if (lower.includes(fragment)) return true;
  }
  return false;
}
