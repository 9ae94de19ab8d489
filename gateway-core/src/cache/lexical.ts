/**
 * Lexical signature of a prompt for the semantic cache. Two prompts can embed close together and
 * still ask different things ("fix line 12" and "fix line 21", "Login" and "Logout"). A semantic
 * hit is served only when the parts an embedding blurs are equal in both prompts: numbers,
 * identifiers, file paths and URLs, quoted strings, code, technology names, contrast words,
 * the count of negations and, by default, the content words in order (content-words.ts).
 *
 * The extraction is heuristic and errs towards reporting a difference, because a false hit
 * serves a wrong answer while a false miss only costs one upstream call.
 */

import { contentWords, REMOVED, sameContent } from './content-words';
import { AFTER, BEFORE, canonicalTechnology, TERM_MATCHERS } from './lexical-terms';

export interface LexicalSignature {
  /** Numbers as written, with thousands separators removed ("1,000" becomes "1000"). */
  numbers: string[];
  /** camelCase, snake_case, dotted and called names, CONSTANTS and CLI flags, as written. */
  identifiers: string[];
  /** File paths, file names with a known extension and URLs, as written. */
  paths: string[];
  /** Contents of "double", 'single', “curly” and «guillemet» quotes. */
  quoted: string[];
  /** Fenced and inline code with runs of whitespace collapsed to one space. */
  code: string[];
  /** Canonical technology names and contrast words ("login", "logout", "enable", "python"). */
  terms: string[];
  /** Capitalized words inside a sentence and ALL-CAPS words, lower-cased: likely proper names. */
  names: string[];
  /** Every lower-cased word of the prose, so a name can be matched in the other prompt. */
  words: string[];
  /** Count of negation words ("not", "n't", "never", "without", "không", ...). */
  negations: number;
  /**
   * Every lower-cased word of the whole text in order. Two prompts with the same words in another
   * order ("Python to Go" and "Go to Python") ask different things, which the sets above miss.
   * Missing in signatures stored before this field existed.
   */
  sequence?: string[];
  /**
   * Content words of the prose in order and in their written case, without the words a
   * paraphrase may drop (see content-words.ts). Missing in signatures stored before this field
   * existed, which then never match.
   */
  content?: string[];
}

export type SignatureField = Exclude<keyof LexicalSignature, 'words' | 'sequence'> | 'order';

export interface LexicalMismatch {
  field: SignatureField;
  /** Values present in the query only; for "negations", the query's count. */
  onlyInQuery: string[];
  /** Values present in the candidate only; for "negations", the candidate's count. */
  onlyInCandidate: string[];
}

/**
 * Strictness of the check. "content_words" also needs the same content words in the same order
 * (the default). "signature" compares only the extracted fields and the negation count, which
 * lets a meaning-based embedder match synonyms but passes any swap the word lists do not name.
 */
export type LexicalCheck = 'content_words' | 'signature';

export interface LexicalComparison {
  equal: boolean;
  mismatches: LexicalMismatch[];
}


const FENCED_CODE = /```[^\n]*\n([\s\S]*?)(?:```|$)/g;
const INLINE_CODE = /`([^`\n]+)`/g;
const QUOTED = new RegExp(
  [
    '"([^"\\n]+)"',
    '“([^”\\n]+)”',
    '«([^»\\n]+)»',
    // A single quote opens only after a non-word character so that "don't" is no quote.
    `${BEFORE}'([^'\\n]+)'${AFTER}`,
  ].join('|'),
  'gu',
);
const URL_PATTERN = /\b(?:https?|ftp|file|s3|gs|ssh):\/\/[^\s"'`<>)\]]+/g;

const FILE_EXTENSIONS = [
  'ts', 'tsx', 'js', 'jsx', 'mjs', 'cjs', 'json', 'py', 'pyi', 'ipynb', 'rb', 'go', 'rs', 'java',
  'kt', 'kts', 'swift', 'c', 'h', 'cc', 'cpp', 'hpp', 'cs', 'php', 'scala', 'sh', 'bash', 'zsh',
  'ps1', 'sql', 'yaml', 'yml', 'toml', 'ini', 'cfg', 'conf', 'env', 'xml', 'html', 'htm', 'css',
  'scss', 'sass', 'less', 'md', 'mdx', 'txt', 'csv', 'tsv', 'log', 'lock', 'gradle', 'vue',
  'svelte', 'dart', 'lua', 'r', 'pl', 'ex', 'exs', 'erl', 'tf', 'tfvars', 'proto', 'graphql',
  'gql', 'dockerfile', 'pem', 'crt', 'pdf', 'png', 'jpg', 'jpeg', 'gif', 'svg', 'zip',
  'gz', 'tar', 'tgz', 'wasm', 'dll', 'exe', 'sqlite', 'parquet', 'xlsx',
];
const BARE_FILE_NAMES = [
  'Dockerfile', 'Makefile', 'Jenkinsfile', 'Procfile', 'Gemfile', 'Rakefile', 'Vagrantfile',
  'Containerfile', 'CMakeLists.txt', 'LICENSE', 'CODEOWNERS',
];
// A path has a slash between name parts or ends in a known extension; dotfiles such as
// ".env" and ".gitignore" count too.
const PATH_PATTERN = new RegExp(
  [
    String.raw`(?:~|\.{1,2})?(?:[\w.@-]*[/\\])+[\w.@-]+`,
    String.raw`${BEFORE}\.[A-Za-z][\w.-]*`,
    String.raw`${BEFORE}[\w@-][\w.@-]*\.(?:${FILE_EXTENSIONS.join('|')})${AFTER}`,
    `${BEFORE}(?:${BARE_FILE_NAMES.join('|').replace(/\./g, '\\.')})${AFTER}`,
  ].join('|'),
  'giu',
);
// Shell special parameters such as $? (exit status) and $! (last background process): the
// identifier pattern would take the "$" alone and leave the "?" as sentence punctuation.
const SHELL_PARAMETER_PATTERN = /(?<![\p{L}\p{N}_$])\$[?!#@*$\-](?![\p{L}\p{N}_])/gu;
const FLAG_PATTERN = new RegExp(String.raw`${BEFORE}(?<![-\w])--?[A-Za-z][\w-]*(?:=[^\s]+)?`, 'gu');
const IDENTIFIER_PATTERN = /[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}_$][\p{L}\p{N}_$]*)*(?:\(\))?/gu;
const LATIN_ABBREVIATIONS = new Set(['e.g', 'i.e', 'etc', 'vs', 'a.k.a']);
const WORD_PATTERN = /[\p{L}\p{N}_$][\p{L}\p{N}_$']*/gu;
const OPERATOR_PATTERN = /===|!==|==|!=|<=|>=|=>|->|&&|\|\||\?\?|\+\+|--(?![\w-])|<<|>>|::/g;

// A minus sign counts when it stands alone before the digits ("returns -1"), not in "x-1".
const NUMBER_PATTERN = /(?:(?<=^|[\s(=,[])-)?\d+(?:[.,]\d+)*/g;


const ENGLISH_NEGATIONS = new Set([
  'not', 'no', 'never', 'none', 'nothing', 'nobody', 'nowhere', 'neither', 'nor', 'without',
  'cannot', 'unless',
]);
// Vietnamese "không" and "chưa" also end yes/no questions ("... được không?"); there they are
// question particles, so a cue directly before "?", the end of the text or after "hay" is skipped.
const VIETNAMESE_NEGATION =
  /(?<![\p{L}\p{N}_])(?:không|chẳng|chả|chưa|đừng|chớ)(?![\p{L}\p{N}_])/giu;
const VIETNAMESE_QUESTION_TAIL = /^\s*(?:[?？]|$|nhỉ|nhở|vậy|thế|ạ)/u;

/** Returns the lexical signature of a prompt. */
export function extractSignature(text: string): LexicalSignature {
  let rest = normalizeText(text);
  const code: string[] = [];
  const identifiers: string[] = [];
  const paths: string[] = [];
  const quoted: string[] = [];

  rest = takeMatches(rest, FENCED_CODE, (match) => {
    const body = collapseWhitespace(match[1] ?? '');
    if (body !== '') code.push(body);
  });
  rest = takeMatches(rest, INLINE_CODE, (match) => {
    classifyCodeSpan(collapseWhitespace(match[1] ?? ''), { code, identifiers, paths });
  });
  rest = takeMatches(rest, QUOTED, (match) => {
    const body = match.slice(1).find((group) => group !== undefined) ?? '';
    const value = collapseWhitespace(body);
    if (value !== '') quoted.push(value);
  });
  rest = takeMatches(rest, URL_PATTERN, (match) => {
    paths.push(stripTrailingPunctuation(match[0]));
  });
  rest = takeMatches(
    rest,
    PATH_PATTERN,
    (match) => {
      paths.push(stripTrailingPunctuation(match[0]));
    },
    (match) => isPath(stripTrailingPunctuation(match[0])),
  );
  rest = takeMatches(rest, SHELL_PARAMETER_PATTERN, (match) => {
    identifiers.push(match[0]);
  });
  rest = takeMatches(rest, FLAG_PATTERN, (match) => {
    identifiers.push(match[0]);
  });
  rest = takeMatches(
    rest,
    IDENTIFIER_PATTERN,
    (match) => {
      // "()" stays: "user.name()" calls a method, "user.name" reads a property.
      identifiers.push(match[0]);
    },
    // "JavaScript" looks like camelCase but is a technology name, compared with the terms.
    (match) => isIdentifier(match[0]) && canonicalTechnology(match[0]) === undefined,
  );

  // Operators carry meaning the words around them do not: == and != ask opposite things.
  for (const match of rest.matchAll(OPERATOR_PATTERN)) identifiers.push(match[0]);

  const numbers: string[] = [];
  for (const match of rest.matchAll(NUMBER_PATTERN)) numbers.push(normalizeNumber(match[0]));

  const terms: string[] = [];
  let prose = rest;
  for (const matcher of TERM_MATCHERS) {
    prose = takeMatches(prose, matcher.pattern, () => {
      terms.push(matcher.term);
    });
  }

  terms.push(...findConversions(rest));

  return {
    numbers: sortedUnique(numbers),
    identifiers: sortedUnique(identifiers),
    paths: sortedUnique(paths),
    quoted: sortedUnique(quoted),
    code: sortedUnique(code),
    terms: sortedUnique(terms),
    names: sortedUnique(findNames(prose)),
    words: sortedUnique([...rest.matchAll(WORD_PATTERN)].map((match) => match[0].toLowerCase())),
    negations: countNegations(rest),
    sequence: [...normalizeText(text).matchAll(WORD_PATTERN)].map((match) => match[0].toLowerCase()),
    content: contentWords(prose),
  };
}

/**
 * Compares two signatures field by field. Names are the one loose field: a name of one prompt
 * also matches when the other prompt has the same word in lower case or at a sentence start.
 */
export function compareSignatures(
  query: LexicalSignature,
  candidate: LexicalSignature,
  check: LexicalCheck = 'content_words',
): LexicalComparison {
  const mismatches: LexicalMismatch[] = [];
  const exactFields = ['numbers', 'identifiers', 'paths', 'quoted', 'code', 'terms'] as const;

  for (const field of exactFields) {
    const onlyInQuery = difference(query[field], candidate[field]);
    const onlyInCandidate = difference(candidate[field], query[field]);
    if (onlyInQuery.length > 0 || onlyInCandidate.length > 0) {
      mismatches.push({ field, onlyInQuery, onlyInCandidate });
    }
  }

  const namesOnlyInQuery = difference(query.names, candidate.words);
  const namesOnlyInCandidate = difference(candidate.names, query.words);
  if (namesOnlyInQuery.length > 0 || namesOnlyInCandidate.length > 0) {
    mismatches.push({ field: 'names', onlyInQuery: namesOnlyInQuery, onlyInCandidate: namesOnlyInCandidate });
  }

  if (query.sequence !== undefined && candidate.sequence !== undefined && isReordering(query.sequence, candidate.sequence)) {
    mismatches.push({ field: 'order', onlyInQuery: [query.sequence.join(' ')], onlyInCandidate: [candidate.sequence.join(' ')] });
  }

  const queryContent = query.content ?? [];
  const candidateContent = candidate.content ?? [];
  const contentMissing = query.content === undefined || candidate.content === undefined;
  if (check === 'content_words' && (contentMissing || !sameContent(queryContent, candidateContent))) {
    mismatches.push({ field: 'content', onlyInQuery: [queryContent.join(' ')], onlyInCandidate: [candidateContent.join(' ')] });
  }

  if (query.negations !== candidate.negations) {
    mismatches.push({
      field: 'negations',
      onlyInQuery: [String(query.negations)],
      onlyInCandidate: [String(candidate.negations)],
    });
  }

  return { equal: mismatches.length === 0, mismatches };
}

/** Formats mismatches as one line for logs and audit records. */
export function describeMismatches(mismatches: readonly LexicalMismatch[]): string {
  return mismatches
    .map((mismatch) => {
      if (mismatch.field === 'negations') {
        return `negations differ (${mismatch.onlyInQuery[0]} vs ${mismatch.onlyInCandidate[0]})`;
      }
      const query = mismatch.onlyInQuery.map((value) => JSON.stringify(value)).join(', ') || 'none';
      const candidate = mismatch.onlyInCandidate.map((value) => JSON.stringify(value)).join(', ') || 'none';
      return `${mismatch.field} differ (query only: ${query}; cached only: ${candidate})`;
    })
    .join('; ');
}

function normalizeText(text: string): string {
  // NFC keeps Vietnamese letters composed so that "xóa" typed two ways compares equal;
  // curly apostrophes become straight ones so that "don’t" reads as a negation.
  return text.normalize('NFC').replace(/[’‘ʼ]/g, "'");
}

/** Calls onMatch for each match and returns the text with each match replaced by REMOVED. */
function takeMatches(
  text: string,
  pattern: RegExp,
  onMatch: (match: RegExpMatchArray) => void,
  shouldTake: (match: RegExpMatchArray) => boolean = () => true,
): string {
  return text.replace(pattern, (...args: unknown[]) => {
    const match = toMatchArray(args);
    if (!shouldTake(match)) return match[0];
    onMatch(match);
    // A mark, not a space, so that punctuation after a removed name ("in Python?") stays attached
    // and is read as the end of a sentence, not as a lone "?".
    return REMOVED;
  });
}

function toMatchArray(args: unknown[]): RegExpMatchArray {
  // String.prototype.replace passes the match, the groups, the offset, the string and,
  // with named groups, a groups object; only the leading strings are the match and groups.
  const offsetIndex = args.findIndex((value) => typeof value === 'number');
  const parts = args.slice(0, offsetIndex) as (string | undefined)[];
  return parts as unknown as RegExpMatchArray;
}

interface CodeSinks {
  code: string[];
  identifiers: string[];
  paths: string[];
}

function classifyCodeSpan(span: string, sinks: CodeSinks): void {
  if (span === '') return;
  // A lone name or path in backticks is the same thing as the bare word in a paraphrase.
  if (isPath(span) && !/\s/.test(span)) {
    sinks.paths.push(span);
  } else if (/^[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}_$][\p{L}\p{N}_$]*)*(?:\(\))?$/u.test(span)) {
    sinks.identifiers.push(span);
  } else {
    sinks.code.push(span);
  }
}

function isPath(value: string): boolean {
  if (/^~?[\w.@-]*[/\\][\w.@/\\-]*[\w@-]$/.test(value)) {
    // "and/or", "input/output" and "TCP/IP" are prose; a path has a dot, a leading
    // ./ ~/ or /, or at least two separators.
    const separators = (value.match(/[/\\]/g) ?? []).length;
    return /^(?:~|\.{1,2})?[/\\]/.test(value) || separators >= 2 || value.includes('.');
  }
  if (BARE_FILE_NAMES.some((name) => name.toLowerCase() === value.toLowerCase())) return true;
  if (/^\.[A-Za-z][\w.-]*$/.test(value)) return true;
  const extension = /\.([A-Za-z0-9]+)$/.exec(value)?.[1]?.toLowerCase();
  return extension !== undefined && FILE_EXTENSIONS.includes(extension) && !/^\d/.test(value);
}

function isIdentifier(word: string): boolean {
  const bare = word.replace(/\(\)$/, '');
  if (bare !== word) return true;
  if (bare.includes('.')) return !LATIN_ABBREVIATIONS.has(bare.toLowerCase());
  if (bare.includes('_')) return /[\p{L}\p{N}]/u.test(bare);
  if (bare.includes('$')) return true;
  // camelCase or PascalCase with an inner capital; "iPhone"-style words count as well.
  if (/\p{Ll}\p{Lu}/u.test(bare)) return true;
  // CONSTANT_CASE without underscore such as "MAX2" needs a digit to differ from an acronym.
  return /^\p{Lu}[\p{Lu}\p{N}]*\p{N}[\p{Lu}\p{N}]*$/u.test(bare);
}

function findNames(prose: string): string[] {
  const names: string[] = [];
  const sentences = prose.split(/(?<=[.!?:;\n])\s+|\n+/u);
  for (const sentence of sentences) {
    const words = [...sentence.matchAll(WORD_PATTERN)].map((match) => match[0]);
    words.forEach((word, index) => {
      const isAcronym = /^\p{Lu}{2,}s?$/u.test(word);
      const isCapitalizedInside = index > 0 && /^\p{Lu}\p{Ll}/u.test(word) && word !== 'I';
      if (isAcronym || isCapitalizedInside) names.push(word.toLowerCase().replace(/'s$/, ''));
    });
  }
  return names;
}

/**
 * Finds "X to Y" between two technology names, as "json->yaml", because "JSON to YAML" and
 * "YAML to JSON" have the same words and the same terms.
 */
function findConversions(prose: string): string[] {
  const words = prose.split(/\s+/).map((word) => word.replace(/^[^\p{L}\p{N}.#+]+|[^\p{L}\p{N}#+]+$/gu, ''));
  const conversions: string[] = [];
  for (let index = 1; index + 1 < words.length; index += 1) {
    if (!/^(?:to|into|sang|thành)$/i.test(words[index] ?? '')) continue;
    const source = canonicalTechnology(words[index - 1] ?? '');
    const target = canonicalTechnology(words[index + 1] ?? '');
    if (source !== undefined && target !== undefined) conversions.push(`${source}->${target}`);
  }
  return conversions;
}

function countNegations(prose: string): number {
  let count = 0;
  for (const match of prose.toLowerCase().matchAll(WORD_PATTERN)) {
    const word = match[0];
    if (ENGLISH_NEGATIONS.has(word) || word.endsWith("n't")) count += 1;
  }
  for (const match of prose.matchAll(VIETNAMESE_NEGATION)) {
    const start = match.index ?? 0;
    const before = prose.slice(Math.max(0, start - 8), start).toLowerCase();
    const after = prose.slice(start + match[0].length);
    const isQuestionParticle = VIETNAMESE_QUESTION_TAIL.test(after) || /(?:^|\s)(?:hay|hoặc)\s*$/u.test(before);
    if (!isQuestionParticle) count += 1;
  }
  return count;
}

function normalizeNumber(value: string): string {
  return /^\d{1,3}(?:,\d{3})+$/.test(value) ? value.replace(/,/g, '') : value;
}

function collapseWhitespace(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

function stripTrailingPunctuation(value: string): string {
  return value.replace(/[.,;:!?]+$/, '');
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

function difference(left: readonly string[], right: readonly string[]): string[] {
  const rightSet = new Set(right);
  return left.filter((value) => !rightSet.has(value));
}

/** Returns whether two word sequences hold the same words in a different order. */
function isReordering(left: readonly string[], right: readonly string[]): boolean {
  if (left.length !== right.length || left.every((word, index) => word === right[index])) return false;
  const sortedLeft = [...left].sort();
  const sortedRight = [...right].sort();
  return sortedLeft.every((word, index) => word === sortedRight[index]);
}
