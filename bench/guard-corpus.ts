/**
 * Detection quality of the guard's built-in detectors, run together through the scanner as the
 * gateway runs them (every secret and personal-data detector, no organisation rules):
 *
 * - Recall on the positive corpora in gateway-core/test/fixtures/guard/{secrets,personal}. An
 *   expected value is found when a finding of the expected type spans exactly that value. It is
 *   covered when some finding, of any type, spans it, so that it would still be blocked or redacted.
 * - Findings on the negative snippets of the same folders, which should be none: secrets for
 *   the secret snippets, personal data for the personal-data snippets.
 * - False positives per MB on clean text: every JavaScript and TypeScript source file in
 *   node_modules and every Markdown file there, with minified files and test, fixture, spec,
 *   example and mock folders left out. A finding is true when its type and value are listed in a
 *   clean-true-findings.json of those folders, which were reviewed by hand. Every other finding
 *   counts as false and is printed, so that a new one can be reviewed.
 *
 * MB is 10^6 bytes of UTF-8. The figures depend on the installed packages (package-lock.json).
 *
 * Run: npx tsx bench/guard-corpus.ts [--show N]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { personalDetectors } from '../gateway-core/src/guard/detectors/personal/index';
import { secretDetectors } from '../gateway-core/src/guard/detectors/secrets/index';
import { createScanner } from '../gateway-core/src/guard/scanner';
import type { Finding } from '../gateway-core/src/guard/types';

const { values: options } = parseArgs({
  options: { show: { type: 'string', default: '40' } },
  strict: true,
});
const showLimit = Number(options.show);
if (!Number.isInteger(showLimit) || showLimit < 0) {
  process.stderr.write(`bench guard-corpus: --show must be a whole number >= 0, got ${options.show}\n`);
  process.exit(2);
}

const repoRoot = resolve(import.meta.dirname, '..');
const fixtures = join(repoRoot, 'gateway-core/test/fixtures/guard');
const nodeModules = join(repoRoot, 'node_modules');

const RECALL_TARGET = 0.99;
const FALSE_POSITIVES_PER_MB_TARGET = 1;

const detectors = [...secretDetectors, ...personalDetectors];
const scanner = createScanner({ detectors });

interface CorpusEntry {
  text: string;
  surrounding?: string;
  expect?: { type: string; value: string }[];
}

function readCorpus(path: string): CorpusEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CorpusEntry);
}

/** Start offsets of every occurrence of `value` in `text`. */
function occurrences(text: string, value: string): number[] {
  const starts: number[] = [];
  for (let index = text.indexOf(value); index >= 0; index = text.indexOf(value, index + 1)) starts.push(index);
  return starts;
}

interface Tally {
  expected: number;
  found: number;
  covered: number;
}

function tallyOf(tallies: Map<string, Tally>, key: string): Tally {
  let tally = tallies.get(key);
  if (!tally) {
    tally = { expected: 0, found: 0, covered: 0 };
    tallies.set(key, tally);
  }
  return tally;
}

const ratio = (part: number, whole: number): string => (whole === 0 ? 'n/a' : (part / whole).toFixed(4));

// Recall on the positive corpora.
const byType = new Map<string, Tally>();
const bySurrounding = new Map<string, Tally>();
const overall: Tally = { expected: 0, found: 0, covered: 0 };
const misses: string[] = [];
let snippetCount = 0;

for (const family of ['secrets', 'personal']) {
  for (const entry of readCorpus(join(fixtures, family, 'positive.jsonl'))) {
    snippetCount++;
    const findings = scanner.scan(entry.text);
    for (const want of entry.expect ?? []) {
      const starts = occurrences(entry.text, want.value);
      const spans = (finding: Finding): boolean =>
        starts.some((start) => finding.start === start && finding.end === start + want.value.length);
      const contains = (finding: Finding): boolean =>
        starts.some((start) => finding.start <= start && finding.end >= start + want.value.length);

      const found = findings.some((finding) => finding.type === want.type && spans(finding));
      const covered = found || findings.some(contains);
      for (const tally of [overall, tallyOf(byType, want.type), tallyOf(bySurrounding, entry.surrounding ?? 'unknown')]) {
        tally.expected++;
        if (found) tally.found++;
        if (covered) tally.covered++;
      }
      if (!found) {
        const reported = findings
          .filter((finding) => starts.some((start) => finding.start < start + want.value.length && finding.end > start))
          .map((finding) => `${finding.type} ${JSON.stringify(entry.text.slice(finding.start, finding.end)).slice(0, 40)}`);
        misses.push(
          `  ${want.type} ${JSON.stringify(want.value).slice(0, 40)} in ${entry.surrounding ?? 'unknown'}: ` +
            `${reported.length > 0 ? `reported as ${reported.join(', ')}` : 'not reported'}`,
        );
      }
    }
  }
}

// Findings on the negative snippets. A personal-data negative may hold a secret on purpose (a
// password in a URI that looks like an e-mail address), so only findings of the family count.
const negativeFindings: string[] = [];
let negativeCount = 0;
for (const [family, category] of [['secrets', 'secret'], ['personal', 'personal']]) {
  for (const entry of readCorpus(join(fixtures, family!, 'negative.jsonl'))) {
    negativeCount++;
    for (const finding of scanner.scan(entry.text).filter((candidate) => candidate.category === category)) {
      negativeFindings.push(`  ${finding.type} ${JSON.stringify(entry.text.slice(finding.start, finding.end))} in ${JSON.stringify(entry.text.slice(0, 80))}`);
    }
  }
}

// False positives on clean text.
const SKIPPED_FOLDERS = /^(test|tests|__tests__|fixtures?|spec|examples?|__mocks__)$/i;
const SOURCE_FILE = /\.(?:c|m)?[jt]s$/;

function collectCleanFiles(): { source: string[]; prose: string[] } {
  const source: string[] = [];
  const prose: string[] = [];
  const stack = [nodeModules];
  while (stack.length > 0) {
    const folder = stack.pop()!;
    const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.test(entry.name) && entry.name !== '.bin') stack.push(path);
      } else if (entry.isFile()) {
        if (entry.name.endsWith('.md')) prose.push(path);
        else if (SOURCE_FILE.test(entry.name) && !entry.name.endsWith('.min.js')) source.push(path);
      }
    }
  }
  return { source, prose };
}

interface ReviewedFindings {
  findings: { type: string; value: string }[];
}

const trueFindings = new Set<string>();
for (const family of ['secrets', 'personal']) {
  const reviewed = JSON.parse(readFileSync(join(fixtures, family, 'clean-true-findings.json'), 'utf8')) as ReviewedFindings;
  for (const { type, value } of reviewed.findings) trueFindings.add(`${type}\u0000${value}`);
}

const clean = collectCleanFiles();
let sourceBytes = 0;
let proseBytes = 0;
let trueCount = 0;
const falseFindings: string[] = [];
const falseByType = new Map<string, number>();
const trueByType = new Map<string, number>();
let scanSeconds = 0;

for (const path of [...clean.source, ...clean.prose]) {
  const text = readFileSync(path, 'utf8');
  const bytes = Buffer.byteLength(text);
  if (path.endsWith('.md')) proseBytes += bytes;
  else sourceBytes += bytes;

  const started = process.hrtime.bigint();
  const findings = scanner.scan(text);
  scanSeconds += Number(process.hrtime.bigint() - started) / 1e9;

  for (const finding of findings) {
    const value = text.slice(finding.start, finding.end);
    if (trueFindings.has(`${finding.type}\u0000${value}`)) {
      trueCount++;
      trueByType.set(finding.type, (trueByType.get(finding.type) ?? 0) + 1);
      continue;
    }
    falseByType.set(finding.type, (falseByType.get(finding.type) ?? 0) + 1);
    const context = text.slice(Math.max(0, finding.start - 40), finding.end + 20).replace(/\s+/g, ' ');
    falseFindings.push(`  ${finding.type} ${JSON.stringify(value).slice(0, 60)} in ${relative(nodeModules, path)}: …${context}…`);
  }
}

const cleanMegabytes = (sourceBytes + proseBytes) / 1e6;
const falsePerMegabyte = falseFindings.length / cleanMegabytes;
const recall = overall.found / overall.expected;
const verdict = (pass: boolean): string => (pass ? 'pass' : 'MISS');
const counts = (map: Map<string, number>): string =>
  [...map].sort((a, b) => b[1] - a[1]).map(([type, count]) => `${type} ${count}`).join(', ') || 'none';

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `guard corpus bench: Node ${process.version}, ${cpu}, ${cpus().length} logical CPUs, ${process.platform} ${release()}`,
  `detectors: ${detectors.length} (${secretDetectors.length} secret, ${personalDetectors.length} personal) through createScanner`,
  '',
  `recall: ${ratio(overall.found, overall.expected)} (${overall.found}/${overall.expected} values in ${snippetCount} snippets), ` +
    `target >= ${RECALL_TARGET}: ${verdict(recall >= RECALL_TARGET)}`,
  `covered by a finding of any type: ${ratio(overall.covered, overall.expected)} (${overall.covered}/${overall.expected})`,
  'recall per detector (found/expected, covered):',
  ...detectors.map((detector) => {
    const tally: Tally = { expected: 0, found: 0, covered: 0 };
    for (const type of detector.types) {
      const typeTally = byType.get(type);
      if (!typeTally) continue;
      tally.expected += typeTally.expected;
      tally.found += typeTally.found;
      tally.covered += typeTally.covered;
    }
    return `  ${detector.types.slice(0, 3).join(', ')}${detector.types.length > 3 ? ', ...' : ''}: ${tally.found}/${tally.expected}, ${tally.covered}`;
  }),
  'recall per type (found/expected, covered):',
  ...[...byType].sort(([a], [b]) => a.localeCompare(b)).map(([type, tally]) => `  ${type}: ${tally.found}/${tally.expected}, ${tally.covered}`),
  'recall per surrounding (found/expected, covered):',
  ...[...bySurrounding].sort(([a], [b]) => a.localeCompare(b)).map(([where, tally]) => `  ${where}: ${tally.found}/${tally.expected}, ${tally.covered}`),
  `values not found with their type: ${misses.length}`,
  ...misses,
  '',
  `negative snippets: ${negativeCount}, findings on them: ${negativeFindings.length}`,
  ...negativeFindings,
  '',
  `clean text: ${(sourceBytes / 1e6).toFixed(1)} MB of source in ${clean.source.length} files and ` +
    `${(proseBytes / 1e6).toFixed(1)} MB of Markdown in ${clean.prose.length} files, scanned at ${(cleanMegabytes / scanSeconds).toFixed(1)} MB/s`,
  `true findings (reviewed): ${trueCount} (${counts(trueByType)})`,
  `false positives: ${falseFindings.length} = ${falsePerMegabyte.toFixed(3)} per MB (${counts(falseByType)}), ` +
    `target <= ${FALSE_POSITIVES_PER_MB_TARGET}: ${verdict(falsePerMegabyte <= FALSE_POSITIVES_PER_MB_TARGET)}`,
  ...falseFindings.slice(0, showLimit),
  ...(falseFindings.length > showLimit ? [`  … ${falseFindings.length - showLimit} more (--show N prints more)`] : []),
  '',
];
process.stdout.write(lines.join('\n'));
