/**
 * Organisation rules from policy: regular expressions and word lists (internal project code
 * names, customer names). Each finding's type is the name of the rule that matched.
 */
import { RE2JS } from 're2js';
import type { Detector, Finding } from '../types';

export interface OrganizationPatternRule {
  name: string;
  /** JavaScript regular expression source, without delimiters. */
  regex: string;
  /** JavaScript regular expression flags; `g` is always added, `y` is rejected. */
  flags?: string;
}

export interface OrganizationWordRule {
  name: string;
  /** Words or phrases matched whole, case-insensitively; spaces inside a phrase match any whitespace run. */
  words: string[];
}

export interface OrganizationRules {
  patterns: OrganizationPatternRule[];
  words: OrganizationWordRule[];
}

export class OrganizationRuleError extends Error {
  override name = 'OrganizationRuleError';
}

/** Limits that bound the work one rule can cause. */
export const ORGANIZATION_RULE_LIMITS = {
  maxPatternLength: 1000,
  maxWordsPerRule: 5000,
  maxWordLength: 200,
  /** Findings kept per rule and text; matching stops there. */
  maxFindingsPerRule: 1000,
};

const RULE_NAME = /^[A-Za-z][A-Za-z0-9_.\-]{0,63}$/;

function validateRuleName(name: string, kind: string): void {
  if (!RULE_NAME.test(name)) {
    throw new OrganizationRuleError(
      `invalid ${kind} rule name ${JSON.stringify(name)}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter`,
    );
  }
}

/**
 * Compiles a pattern rule with RE2JS, a port of RE2 that matches in time linear in the text, so a
 * rule such as `(a|aa)*c` cannot stall the gateway as it would in JavaScript's backtracking
 * engine. RE2 syntax has no lookaround or backreferences, and accepts inline flags such as `(?i)`.
 */
function compilePattern(rule: OrganizationPatternRule): RE2JS {
  validateRuleName(rule.name, 'pattern');
  const flags = rule.flags ?? '';
  const where = `pattern rule "${rule.name}"`;

  if (rule.regex.length === 0 || rule.regex.length > ORGANIZATION_RULE_LIMITS.maxPatternLength) {
    throw new OrganizationRuleError(`invalid ${where}: the regex must have 1 to ${ORGANIZATION_RULE_LIMITS.maxPatternLength} characters`);
  }
  if (!/^[gimsu]*$/.test(flags)) {
    throw new OrganizationRuleError(`invalid ${where}: unsupported flags ${JSON.stringify(flags)}; use any of i (ignore case), m (multiline), s (dot matches newlines)`);
  }
  let engineFlags = 0;
  if (flags.includes('i')) engineFlags |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('m')) engineFlags |= RE2JS.MULTILINE;
  if (flags.includes('s')) engineFlags |= RE2JS.DOTALL;

  let pattern: RE2JS;
  try {
    pattern = RE2JS.compile(rule.regex, engineFlags);
  } catch (error) {
    throw new OrganizationRuleError(
      `invalid ${where}: ${(error as Error).message}. Rules use RE2 syntax: no lookahead, lookbehind or backreferences; write (?i) or flags: i to ignore case`,
    );
  }
  if (pattern.matcher('').find()) {
    throw new OrganizationRuleError(`invalid ${where}: the regex matches the empty string, so it would report empty findings`);
  }
  return pattern;
}

/** Escapes the syntax characters that the `u` flag allows after a backslash. */
function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\\/]/g, '\\$&');
}

interface CompiledWords {
  /** All words as one alternation, longest first. */
  regex: RegExp;
  /** Each word alone, sticky, longest first, for retrying shorter words at a rejected position. */
  each: RegExp[];
}

function compileWords(rule: OrganizationWordRule): CompiledWords {
  validateRuleName(rule.name, 'word');
  const where = `word rule "${rule.name}"`;
  if (rule.words.length === 0 || rule.words.length > ORGANIZATION_RULE_LIMITS.maxWordsPerRule) {
    throw new OrganizationRuleError(`invalid ${where}: it needs 1 to ${ORGANIZATION_RULE_LIMITS.maxWordsPerRule} words`);
  }

  const alternatives = rule.words.map((word, index) => {
    const trimmed = word.normalize('NFC').trim();
    if (trimmed.length === 0 || trimmed.length > ORGANIZATION_RULE_LIMITS.maxWordLength) {
      throw new OrganizationRuleError(`invalid ${where}: word ${index} must have 1 to ${ORGANIZATION_RULE_LIMITS.maxWordLength} characters after trimming`);
    }
    return trimmed.split(/\s+/).map(escapeRegex).join('\\s+');
  });
  // Longer words first, so that "Falcon Prime" wins over "Falcon" at the same position.
  alternatives.sort((left, right) => right.length - left.length);

  // Both ends are checked by `joinsWord` after a match. A leading lookbehind would run at every
  // position of the text and made this pattern about three times slower, and the camelCase check
  // needs the case of the matched text, which the `i` flag hides.
  return { regex: new RegExp(`(?:${alternatives.join('|')})`, 'giu'), each: alternatives.map((alternative) => new RegExp(alternative, 'iuy')) };
}

const LETTER_OR_MARK = /[\p{L}\p{M}]/u;
const LOWERCASE = /\p{Ll}/u;
const UPPERCASE = /\p{Lu}/u;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Returns the code point that ends just before `index`, or '' at the start of the text. */
function codePointBefore(text: string, index: number): string {
  if (index === 0) return '';
  let start = index - 1;
  if (start > 0 && isLowSurrogate(text.charCodeAt(start)) && isHighSurrogate(text.charCodeAt(start - 1))) start--;
  return text.slice(start, index);
}

/**
 * Returns whether the code points `before` and `after` belong to one word, so that a listed word
 * ending or starting between them is part of a longer word. Digits, `_` and punctuation separate
 * words, and so does a lowercase letter followed by an uppercase one, so `NightjarService`,
 * `nightjar_db` and `getNightjar` contain "Nightjar" while `Nightjars` does not.
 */
function joinsWord(before: string, after: string): boolean {
  if (before === '' || after === '' || !LETTER_OR_MARK.test(before) || !LETTER_OR_MARK.test(after)) return false;
  return !(LOWERCASE.test(before) && UPPERCASE.test(after));
}

/** Length in UTF-16 code units of the code point that starts at `index`. */
function codePointLength(text: string, index: number): number {
  return isHighSurrogate(text.charCodeAt(index)) && isLowSurrogate(text.charCodeAt(index + 1)) ? 2 : 1;
}

interface CompiledRule {
  name: string;
  /** Calls `visit` with each match's UTF-16 span until it returns false or the text ends. */
  forEachMatch(text: string, visit: (start: number, end: number) => boolean): void;
}

function patternRule(rule: OrganizationPatternRule): CompiledRule {
  const pattern = compilePattern(rule);
  return {
    name: rule.name,
    forEachMatch(text, visit) {
      const matcher = pattern.matcher(text);
      while (matcher.find()) {
        // An anchor such as \b can match empty inside a text; find() moves past it.
        if (matcher.end() > matcher.start() && !visit(matcher.start(), matcher.end())) return;
      }
    },
  };
}

/** Returns whether text[start, end) is a whole word: a word boundary on both sides. */
function standsAlone(text: string, start: number, end: number): boolean {
  const first = String.fromCodePoint(text.codePointAt(start)!);
  const next = end < text.length ? String.fromCodePoint(text.codePointAt(end)!) : '';
  return !joinsWord(codePointBefore(text, start), first) && !joinsWord(codePointBefore(text, end), next);
}

function wordRule(rule: OrganizationWordRule): CompiledRule {
  const { regex, each: singleWords } = compileWords(rule);

  /** Returns the end of the longest listed word that matches at `start` as a whole word, or -1. */
  const standingWordAt = (text: string, start: number): number => {
    for (const word of singleWords) {
      word.lastIndex = start;
      if (word.test(text) && standsAlone(text, start, word.lastIndex)) return word.lastIndex;
    }
    return -1;
  };

  return {
    name: rule.name,
    forEachMatch(text, visit) {
      regex.lastIndex = 0;
      let match: RegExpExecArray | null;
      while ((match = regex.exec(text)) !== null) {
        const start = match.index;
        let end = start + match[0].length;
        // The alternation took the longest word here; a shorter one ("Falcon" in "Falcon Primer") may still stand alone.
        if (!standsAlone(text, start, end)) end = standingWordAt(text, start);
        if (end < 0) {
          regex.lastIndex = start + codePointLength(text, start);
          continue;
        }
        regex.lastIndex = end;
        if (!visit(start, end)) return;
      }
    },
  };
}

/**
 * Creates a detector for the organisation's rules.
 * Throws OrganizationRuleError for an invalid rule, naming it.
 *
 * NOTE: word lists match NFC text. A text typed with combining marks (NFD) does not match a
 * precomposed word, because normalising the text would move the offsets.
 */
export function createOrganizationDetector(rules: OrganizationRules): Detector {
  const compiled: CompiledRule[] = [...rules.patterns.map(patternRule), ...rules.words.map(wordRule)];
  const names = compiled.map((rule) => rule.name);
  if (new Set(names).size !== names.length) {
    throw new OrganizationRuleError(`invalid organisation rules: rule names must be unique, got ${names.join(', ')}`);
  }

  return {
    types: names,
    category: 'organization',
    scan(text: string): Finding[] {
      const findings: Finding[] = [];
      for (const rule of compiled) {
        let count = 0;
        rule.forEachMatch(text, (start, end) => {
          findings.push({ type: rule.name, category: 'organization', confidence: 0.9, start, end });
          count++;
          return count < ORGANIZATION_RULE_LIMITS.maxFindingsPerRule;
        });
      }
      return findings;
    },
  };
}
