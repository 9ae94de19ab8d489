/**
 * Speed of the guard's scanner with every detector. Throughput is measured over a mix of real
 * source files from node_modules and prose (the Markdown files shipped in node_modules). The
 * 400 KB prompt is timed twice: the scanner alone, and the whole guard on a request body
 * (parse, collect the parts, scan, redact). Sizes are UTF-8 bytes; MB is 10^6 bytes. Each timing runs after a
 * warm-up pass so that the regular expressions are compiled and optimised.
 *
 * Run: npx tsx bench/guard.ts [--corpus-mb N] [--repeats N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createOrganizationDetector } from '../gateway-core/src/guard/detectors/organization';
import { personalDetectors } from '../gateway-core/src/guard/detectors/personal/index';
import { secretDetectors } from '../gateway-core/src/guard/detectors/secrets/index';
import { collectOpenAIChatParts } from '../gateway-core/src/guard/parts';
import { redactParts } from '../gateway-core/src/guard/redact';
import { createScanner } from '../gateway-core/src/guard/scanner';
import type { Detector } from '../gateway-core/src/guard/types';

const { values } = parseArgs({
  options: {
    'corpus-mb': { type: 'string', default: '16' },
    repeats: { type: 'string', default: '200' },
  },
  strict: true,
});
const corpusBytes = Number(values['corpus-mb']) * 1e6;
const repeats = Number(values.repeats);
if (!(corpusBytes >= 1e6) || !Number.isInteger(repeats) || repeats < 20) {
  process.stderr.write('bench guard: --corpus-mb must be a number >= 1 and --repeats an integer >= 20\n');
  process.exit(2);
}

const nodeModules = resolve(import.meta.dirname, '../node_modules');
/** Folders that hold sample keys and fixtures rather than ordinary source. */
const SKIPPED_FOLDERS = /^(test|tests|__tests__|fixtures?|spec|examples?)$/i;

function collectFiles(extensions: RegExp, budgetBytes: number): string[] {
  const texts: string[] = [];
  let total = 0;
  const stack = [nodeModules];
  while (stack.length > 0 && total < budgetBytes) {
    const folder = stack.pop()!;
    const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.test(entry.name) && entry.name !== '.bin') stack.push(path);
      } else if (entry.isFile() && extensions.test(entry.name) && !entry.name.endsWith('.min.js')) {
        const size = statSync(path).size;
        if (size === 0 || size > 2_000_000) continue;
        texts.push(readFileSync(path, 'utf8'));
        total += size;
        if (total >= budgetBytes) break;
      }
    }
  }
  return texts;
}

const detectors: Detector[] = [
  ...secretDetectors,
  ...personalDetectors,
  createOrganizationDetector({
    patterns: [{ name: 'ticket', regex: 'ACME-[0-9]{4,6}' }],
    words: [{ name: 'code_name', words: ['Falcon Prime', 'Bluebird', 'Project Nimbus'] }],
  }),
];
const scanner = createScanner({ detectors });

const code = collectFiles(/\.(js|cjs|mjs|ts)$/, corpusBytes * 0.75);
const prose = collectFiles(/\.md$/, corpusBytes * 0.25);
const corpus = [...code, ...prose];
const bytesOf = (texts: string[]): number => texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);

function throughput(texts: string[]): { megabytesPerSecond: number; findings: number } {
  for (const text of texts.slice(0, 200)) scanner.scan(text);
  let findings = 0;
  const started = process.hrtime.bigint();
  for (const text of texts) findings += scanner.scan(text).length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { megabytesPerSecond: bytesOf(texts) / 1e6 / seconds, findings };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

/** Times `run(index)` for index 0 to repeats - 1, after ten runs that warm it up. */
function timeRepeated(run: (index: number) => void): { p50: number; p99: number; max: number } {
  for (let index = 0; index < 10; index++) run(index);
  const samples: number[] = [];
  for (let index = 0; index < repeats; index++) {
    const started = process.hrtime.bigint();
    run(index);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), max: samples[samples.length - 1]! };
}

// A 400 KB prompt: source and prose, with a few sensitive values a developer might paste.
const PROMPT_CHARS = 400 * 1024;
const pasted = [
  'DATABASE_URL=postgres://app:S3cr%40t!pw@db.internal.example:5432/orders\n',
  'Contact ops-oncall@example.com or +84 912 345 678 about ACME-20931.\n',
  'const stripeKey = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";\n',
];
let prompt = '';
for (let index = 0; prompt.length < PROMPT_CHARS; index++) {
  prompt += corpus[(index * 7919) % corpus.length]! + pasted[index % pasted.length]!;
}
prompt = prompt.slice(0, PROMPT_CHARS);
// Two prompts that differ in their last character, used in turn. Some detectors keep the result
// of a search for the last text they scanned, so scanning one text over and over would time that
// shortcut rather than the search.
const prompts = [prompt, `${prompt.slice(0, -1)}${prompt.endsWith('.') ? ',' : '.'}`];
const bodies = prompts.map((content) =>
  JSON.stringify({
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'You are a helpful coding assistant.' },
      { role: 'user', content },
    ],
  }),
);

const all = throughput(corpus);
const codeOnly = throughput(code);
const proseOnly = throughput(prose);
// Per detector, to show where the time goes; the scanner's own work is the difference to the sum.
// Each text goes through every detector in the scanner's order, because some detectors share a
// search of the last text: its cost counts for the first detector that needs it.
const detectorNanoseconds = detectors.map(() => 0n);
for (const text of corpus.slice(0, 200)) for (const detector of detectors) detector.scan(text);
for (const text of corpus) {
  detectors.forEach((detector, index) => {
    const started = process.hrtime.bigint();
    detector.scan(text);
    detectorNanoseconds[index]! += process.hrtime.bigint() - started;
  });
}
const perDetector = detectors.map((detector, index) => {
  const seconds = Number(detectorNanoseconds[index]!) / 1e9;
  return `  ${detector.types.slice(0, 3).join(', ')}${detector.types.length > 3 ? ', ...' : ''}: ${(bytesOf(corpus) / 1e6 / seconds).toFixed(0)} MB/s, ${(seconds * 1000).toFixed(0)} ms`;
});
const scanOnly = timeRepeated((index) => scanner.scan(prompts[index % 2]!));
const wholeGuard = timeRepeated((index) => {
  const parts = collectOpenAIChatParts(JSON.parse(bodies[index % 2]!));
  redactParts(parts, parts.map((part) => scanner.scan(part.text)));
});

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const format = (value: number): string => value.toFixed(2);
process.stdout.write(
  [
    `guard bench: Node ${process.version}, ${cpu}, ${cpus().length} logical CPUs, ${process.platform} ${release()}`,
    `detectors: ${detectors.length} (${secretDetectors.length} secret, ${personalDetectors.length} personal, 1 organisation)`,
    `throughput, all: ${format(all.megabytesPerSecond)} MB/s over ${format(bytesOf(corpus) / 1e6)} MB in ${corpus.length} files (${all.findings} findings)`,
    `throughput, source: ${format(codeOnly.megabytesPerSecond)} MB/s over ${format(bytesOf(code) / 1e6)} MB`,
    `throughput, prose: ${format(proseOnly.megabytesPerSecond)} MB/s over ${format(bytesOf(prose) / 1e6)} MB`,
    'per detector, over the same mix:',
    ...perDetector,
    `400 KB prompt, scan only (${repeats} runs): p50 ${format(scanOnly.p50)} ms, p99 ${format(scanOnly.p99)} ms, max ${format(scanOnly.max)} ms`,
    `400 KB prompt, parse + collect + scan + redact (${repeats} runs): p50 ${format(wholeGuard.p50)} ms, p99 ${format(wholeGuard.p99)} ms, max ${format(wholeGuard.max)} ms`,
    '',
  ].join('\n'),
);
