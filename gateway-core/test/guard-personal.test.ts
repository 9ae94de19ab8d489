import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createOrganizationDetector, OrganizationRuleError } from '../src/guard/detectors/organization';
import {
  createPhoneDetector,
  emailDetector,
  ibanDetector,
  paymentCardDetector,
  personalDetectors,
  phoneDetector,
  usSsnDetector,
  vnCitizenIdDetector,
} from '../src/guard/detectors/personal/index';
import { ibanRemainder } from '../src/guard/detectors/personal/iban';
import { luhnValid, matchIssuer } from '../src/guard/detectors/personal/payment-card';
import { citizenIdBirthYear, VN_PROVINCE_CODES } from '../src/guard/detectors/personal/vn-citizen-id';
import type { Detector, Finding } from '../src/guard/types';

const testDirectory = dirname(fileURLToPath(import.meta.url));
const fixtures = join(testDirectory, 'fixtures/guard/personal');
const repoRoot = resolve(testDirectory, '../..');

interface CorpusEntry {
  text: string;
  /** Where the snippet comes from: code, config, log, stack_trace, chat_en, chat_vi, shell, http, data or plain. */
  surrounding?: string;
  expect: Array<{ type: string; value: string }>;
}

/** Surroundings in which every detector must have at least one snippet. */
const REQUIRED_SURROUNDINGS = ['code', 'config', 'log', 'stack_trace', 'chat_en', 'chat_vi'];
const KNOWN_SURROUNDINGS = new Set([...REQUIRED_SURROUNDINGS, 'shell', 'http', 'data', 'plain']);

function readCorpus(name: string): CorpusEntry[] {
  return readFileSync(join(fixtures, name), 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as CorpusEntry);
}

function scanAll(text: string, detectors: Detector[] = personalDetectors): Finding[] {
  return detectors.flatMap((detector) => detector.scan(text));
}

/** Returns the findings' type and value, which is what the tests compare. */
function values(text: string, detector: Detector): Array<[string, string]> {
  return detector.scan(text).map((finding) => [finding.type, text.slice(finding.start, finding.end)]);
}

describe('personal detectors on the positive corpus', () => {
  const corpus = readCorpus('positive.jsonl');

  it('corpus has at least 200 snippets', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
  });

  it('corpus covers every type', () => {
    const counts = new Map<string, number>();
    for (const entry of corpus) {
      for (const want of entry.expect) counts.set(want.type, (counts.get(want.type) ?? 0) + 1);
    }
    for (const type of personalDetectors.flatMap((detector) => detector.types)) {
      expect(counts.get(type) ?? 0, type).toBeGreaterThanOrEqual(3);
    }
  });

  it('corpus covers every surrounding', () => {
    for (const entry of corpus) expect(KNOWN_SURROUNDINGS, entry.text.slice(0, 80)).toContain(entry.surrounding);
    for (const detector of personalDetectors) {
      const surroundings = new Set(
        corpus.filter((entry) => entry.expect.some((want) => detector.types.includes(want.type))).map((entry) => entry.surrounding),
      );
      for (const surrounding of REQUIRED_SURROUNDINGS) {
        expect(surroundings, `${detector.types[0]} in ${surrounding}`).toContain(surrounding);
      }
    }
  });

  it('recall is at least 0.99', () => {
    let expected = 0;
    let found = 0;
    const misses: string[] = [];
    const perType = new Map<string, { expected: number; found: number }>();

    for (const entry of corpus) {
      const findings = scanAll(entry.text);
      for (const want of entry.expect) {
        expected++;
        const stats = perType.get(want.type) ?? { expected: 0, found: 0 };
        stats.expected++;
        const hit = findings.some((finding) => finding.type === want.type && entry.text.slice(finding.start, finding.end) === want.value);
        if (hit) {
          found++;
          stats.found++;
        } else {
          misses.push(`${want.type} ${JSON.stringify(want.value)} in ${JSON.stringify(entry.text)}`);
        }
        perType.set(want.type, stats);
      }
    }

    const recall = found / expected;
    console.log(`personal recall: ${found}/${expected} = ${recall.toFixed(4)} over ${corpus.length} snippets`);
    for (const [type, stats] of perType) console.log(`  ${type}: ${stats.found}/${stats.expected}`);
    if (misses.length > 0) console.log(`missed:\n  ${misses.join('\n  ')}`);
    expect(recall).toBeGreaterThanOrEqual(0.99);
  });

  it('findings are well-formed', () => {
    for (const entry of corpus) {
      for (const finding of scanAll(entry.text)) {
        expect(finding.category).toBe('personal');
        expect(finding.start).toBeGreaterThanOrEqual(0);
        expect(finding.end).toBeGreaterThan(finding.start);
        expect(finding.end).toBeLessThanOrEqual(entry.text.length);
        expect(finding.confidence).toBeGreaterThan(0);
        expect(finding.confidence).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('personal detectors on hard negatives', () => {
  it('negative corpus produces no findings', () => {
    const fired: string[] = [];
    for (const entry of readCorpus('negative.jsonl')) {
      for (const finding of scanAll(entry.text)) {
        fired.push(`${finding.type} ${JSON.stringify(entry.text.slice(finding.start, finding.end))} in ${JSON.stringify(entry.text)}`);
      }
    }
    expect(fired).toEqual([]);
  });
});

describe('UTF-16 offsets', () => {
  it('offsets count astral characters as two units', () => {
    const text = '😀👍 Liên hệ 𝒜 an.nguyen@example.org hoặc 0901234567 😀';
    expect(values(text, emailDetector)).toEqual([['email', 'an.nguyen@example.org']]);
    expect(values(text, phoneDetector)).toEqual([['phone_number', '0901234567']]);
  });
});

describe('email detector', () => {
  it('takes non-ASCII local parts whole', () => {
    for (const address of ['émile.zola@exämple.fr', 'nguyễn.văn.a@công-ty.vn', '山田@例え.jp']) {
      const text = `write to ${address} today`;
      expect(emailDetector.scan(text).map((finding) => text.slice(finding.start, finding.end))).toEqual([address]);
    }
  });

  it('email keeps plus tags and subdomains', () => {
    expect(values('to: dev+ci@build.eu.example.com.', emailDetector)).toEqual([['email', 'dev+ci@build.eu.example.com']]);
  });

  it('email accepts IDN domains', () => {
    expect(values('lan@bücher.example', emailDetector)).toEqual([['email', 'lan@bücher.example']]);
  });

  it('email skips scopes, SSH remotes and URL userinfo', () => {
    expect(values('"@types/node": "^20"', emailDetector)).toEqual([]);
    expect(values('git@github.com:org/repo.git', emailDetector)).toEqual([]);
    expect(values('https://user@example.com/path', emailDetector)).toEqual([]);
    expect(values('icon@2x.png lodash@4.17.21', emailDetector)).toEqual([]);
  });

  it('email requires a dot unless after mailto', () => {
    expect(values('ping root@localhost', emailDetector)).toEqual([]);
    expect(values('mailto:root@localhost', emailDetector)).toEqual([['email', 'root@localhost']]);
  });

  it('email in package.json author is reported', () => {
    const text = '{ "author": "Jane Roe <jane@example.com> (https://example.com)" }';
    expect(values(text, emailDetector)).toEqual([['email', 'jane@example.com']]);
  });
});

describe('phone detector', () => {
  it('phone finds Vietnamese formats', () => {
    for (const number of ['+84 90 123 45 67', '090 123 4567', '0901234567', '(028) 3822 1234']) {
      expect(values(`số: ${number}.`, phoneDetector)).toEqual([['phone_number', number]]);
    }
  });

  it('phone rejects ids, dates and versions', () => {
    for (const text of ['2147483647', '2024-01-15 10:30', 'v1.2.3456.7890', '192.168.100.200', '1717171717171', '12/05/2024 0830', '0.99.0 (2026-05-27)', '1.4.15     5868160']) {
      expect(values(text, phoneDetector)).toEqual([]);
    }
  });

  it('phone needs the 0 trunk prefix in VN', () => {
    expect(values('ref 912-34-5678', phoneDetector)).toEqual([]);
    expect(values('ref 091-234-5678', phoneDetector)).toEqual([['phone_number', '091-234-5678']]);
  });

  it('phone keeps a number before a slash', () => {
    expect(values('hotline 0941234567 (24/7)', phoneDetector)).toEqual([['phone_number', '0941234567']]);
  });

  it('phone regions are configurable', () => {
    const british = createPhoneDetector({ defaultRegions: ['GB'] });
    expect(values('office 020 7946 0958', british)).toEqual([['phone_number', '020 7946 0958']]);
    expect(values('office 0901234567', british)).toEqual([]);
    expect(values('office +84 90 123 45 67', british)).toEqual([['phone_number', '+84 90 123 45 67']]);
  });

  it('phone splits adjacent numbers', () => {
    expect(values('090 123 4567 091 234 5678', phoneDetector)).toEqual([
      ['phone_number', '090 123 4567'],
      ['phone_number', '091 234 5678'],
    ]);
  });
});

describe('payment card detector', () => {
  it('Luhn checksum', () => {
    expect(luhnValid('4539578763621486')).toBe(true);
    expect(luhnValid('4539578763621487')).toBe(false);
  });

  it('issuer ranges', () => {
    expect(matchIssuer('2221000000000009')).toBe('mastercard');
    expect(matchIssuer('2720990000000007')).toBe('mastercard');
    expect(matchIssuer('2721000000000005')).toBeUndefined();
    expect(matchIssuer('378282246310005')).toBe('amex');
    expect(matchIssuer('3782822463100050')).toBeUndefined();
    expect(matchIssuer('6200000000000000005')).toBe('unionpay');
    expect(matchIssuer('1234567812345670')).toBeUndefined();
  });

  it('card rejects Luhn-valid runs without issuer', () => {
    expect(luhnValid('1234567812345670')).toBe(true);
    expect(values('id=1234567812345670', paymentCardDetector)).toEqual([]);
  });

  it('card rejects mixed separators and odd groups', () => {
    expect(values('4539 5787-6362 1486', paymentCardDetector)).toEqual([]);
    expect(values('45 3957 8763 6214 86', paymentCardDetector)).toEqual([]);
    expect(values('4539 5787 6362 1486', paymentCardDetector)).toEqual([['payment_card', '4539 5787 6362 1486']]);
  });
});

describe('IBAN detector', () => {
  it('mod-97 remainder', () => {
    expect(ibanRemainder('GB82WEST12345698765432')).toBe(1);
    expect(ibanRemainder('GB83WEST12345698765432')).not.toBe(1);
  });

  it('IBAN needs the country length', () => {
    expect(values('GB82WEST12345698765432', ibanDetector)).toEqual([['iban', 'GB82WEST12345698765432']]);
    expect(values('GB82WEST1234569876543', ibanDetector)).toEqual([]);
    expect(values('GB82 WEST 1234 5698 7654 32', ibanDetector)).toEqual([['iban', 'GB82 WEST 1234 5698 7654 32']]);
  });
});

describe('Vietnamese citizen id detector', () => {
  it('province code list has 63 codes', () => {
    expect(VN_PROVINCE_CODES.size).toBe(63);
    expect(VN_PROVINCE_CODES.has('001')).toBe(true);
    expect(VN_PROVINCE_CODES.has('096')).toBe(true);
    expect(VN_PROVINCE_CODES.has('003')).toBe(false);
  });

  it('citizen id needs a context word', () => {
    expect(values('ref 079088001234', vnCitizenIdDetector)).toEqual([]);
    expect(values('CCCD: 079088001234', vnCitizenIdDetector)).toEqual([['vn_citizen_id', '079088001234']]);
  });

  it('citizen id rejects unknown province', () => {
    expect(values('CCCD: 003088001234', vnCitizenIdDetector)).toEqual([]);
  });

  it('citizen id context tolerates decomposed marks', () => {
    const text = 'căn cước: 079088001234'.normalize('NFD');
    expect(values(text, vnCitizenIdDetector)).toEqual([['vn_citizen_id', '079088001234']]);
  });

  it('citizen id birth year from century digit', () => {
    expect(citizenIdBirthYear('079088001234')).toBe(1988);
    expect(citizenIdBirthYear('079305001234')).toBe(2005);
    const future = vnCitizenIdDetector.scan('CCCD 079588001234');
    expect(future).toHaveLength(1);
    expect(future[0]!.confidence).toBeLessThan(0.85);
  });

  it('cmnd needs a context word', () => {
    expect(values('build 271234567', vnCitizenIdDetector)).toEqual([]);
    expect(values('CMND 271234567', vnCitizenIdDetector)).toEqual([['vn_cmnd', '271234567']]);
  });
});

describe('US SSN detector', () => {
  it('SSN skips never-issued ranges', () => {
    for (const value of ['000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000']) {
      expect(values(value, usSsnDetector)).toEqual([]);
    }
  });

  it('bare SSN needs a context word', () => {
    expect(values('order 512427788', usSsnDetector)).toEqual([]);
    expect(values('SSN 512427788', usSsnDetector)).toEqual([['us_ssn', '512427788']]);
  });
});

describe('organization detector', () => {
  it('organization pattern findings use the rule name', () => {
    const detector = createOrganizationDetector({
      patterns: [{ name: 'ticket_id', regex: 'ACME-\\d{4,6}' }],
      words: [],
    });
    expect(detector.category).toBe('organization');
    expect(detector.types).toEqual(['ticket_id']);
    expect(values('see ACME-12345 and ACME-77', detector)).toEqual([['ticket_id', 'ACME-12345']]);
  });

  it('organization words match whole words', () => {
    const detector = createOrganizationDetector({
      patterns: [],
      words: [{ name: 'code_name', words: ['Falcon', 'Falcon Prime', 'Sao Mai', 'Bạch Đằng'] }],
    });
    expect(values('falcon prime ships; Falconry is a hobby; FALCON too', detector)).toEqual([
      ['code_name', 'falcon prime'],
      ['code_name', 'FALCON'],
    ]);
    expect(values('dự án BẠCH ĐẰNG và sao  mai; Bạch Đằngx', detector)).toEqual([
      ['code_name', 'BẠCH ĐẰNG'],
      ['code_name', 'sao  mai'],
    ]);
  });

  it('organization rejects an invalid regex', () => {
    expect(() => createOrganizationDetector({ patterns: [{ name: 'bad', regex: '(' }], words: [] })).toThrow(OrganizationRuleError);
    expect(() => createOrganizationDetector({ patterns: [{ name: 'bad', regex: 'a', flags: 'y' }], words: [] })).toThrow(/unsupported flags/);
  });

  it('organization rejects empty matches', () => {
    expect(() => createOrganizationDetector({ patterns: [{ name: 'empty', regex: 'a*' }], words: [] })).toThrow(/empty string/);
    expect(() => createOrganizationDetector({ patterns: [{ name: 'empty', regex: '' }], words: [] })).toThrow(OrganizationRuleError);
  });

  it('organization words match inside identifiers', () => {
    const detector = createOrganizationDetector({ patterns: [], words: [{ name: 'code_name', words: ['Nightjar', 'Falcon', 'Falcon Prime'] }] });
    const found = (text: string): string[] => detector.scan(text).map((finding) => text.slice(finding.start, finding.end));
    expect(found('class NightjarService {}')).toEqual(['Nightjar']);
    expect(found('DROP TABLE nightjar_db;')).toEqual(['nightjar']);
    expect(found('getNightjar()')).toEqual(['Nightjar']);
    expect(found('Nightjar2 launch')).toEqual(['Nightjar']);
    expect(found('Nightjars and NIGHTJARSERVICE')).toEqual([]);
    expect(found('the Falcon Primer')).toEqual(['Falcon']);
    expect(found('Falcon Prime ships')).toEqual(['Falcon Prime']);
  });

  it('organization patterns run in linear time', () => {
    // Each of these backtracks exponentially in JavaScript's engine; RE2 matches in one pass.
    const text = `${'a'.repeat(50_000)}!`;
    for (const regex of ['(a+)+b', '(a|aa)*c', '(\\w*x?)*y']) {
      const detector = createOrganizationDetector({ patterns: [{ name: 'slow', regex }], words: [] });
      expect(detector.scan(text)).toEqual([]);
    }
  });

  it('organization patterns take inline flags and reject lookaround', () => {
    const detector = createOrganizationDetector({ patterns: [{ name: 'customer', regex: '(?i)cust-[0-9]{3}' }], words: [] });
    expect(detector.scan('é😀 Cust-123 and CUST-999').map((finding) => [finding.start, finding.end])).toEqual([
      [4, 12],
      [17, 25],
    ]);
    expect(() => createOrganizationDetector({ patterns: [{ name: 'ahead', regex: 'a(?=b)' }], words: [] })).toThrow(/RE2 syntax/);
    expect(() => createOrganizationDetector({ patterns: [{ name: 'back', regex: '(a)\\1' }], words: [] })).toThrow(OrganizationRuleError);
  });

  it('organization rejects bad names and words', () => {
    expect(() => createOrganizationDetector({ patterns: [{ name: '', regex: 'x' }], words: [] })).toThrow(/rule name/);
    expect(() => createOrganizationDetector({ patterns: [], words: [{ name: 'w', words: ['  '] }] })).toThrow(/word 0/);
    expect(() =>
      createOrganizationDetector({ patterns: [{ name: 'dup', regex: 'x' }], words: [{ name: 'dup', words: ['y'] }] }),
    ).toThrow(/unique/);
  });

  it('organization caps findings per rule', () => {
    const detector = createOrganizationDetector({ patterns: [{ name: 'x', regex: 'x' }], words: [] });
    expect(detector.scan('x'.repeat(5000))).toHaveLength(1000);
  });

  it('organization words escape regex syntax', () => {
    const detector = createOrganizationDetector({ patterns: [], words: [{ name: 'w', words: ['C++ (core)', 'a.b'] }] });
    expect(values('using C++ (core) and axb', detector)).toEqual([['w', 'C++ (core)']]);
  });
});

/** Real files from node_modules: source code and its Markdown documentation (ordinary prose). */
function collectCleanFiles(): string[] {
  const modules = join(repoRoot, 'node_modules');
  const files: string[] = [];
  const sourceRoots = [
    'typescript/lib/typescript.js',
    'yaml/dist',
    'zod/v4/core',
    'pino/lib',
    'express/lib',
    'vite/dist/node',
    'openai/resources',
    'semver',
    'qs/lib',
  ];
  // A phone-number library's metadata and docs are full of example phone numbers.
  const skipped = /(^|\/)(test|tests|__tests__|fixtures?|spec|examples?)(\/|$)|libphonenumber-js/;

  function walk(path: string, accept: (file: string) => boolean): void {
    if (!existsSync(path) || skipped.test(relative(modules, path))) return;
    const stats = statSync(path);
    if (stats.isFile()) {
      if (accept(path)) files.push(path);
      return;
    }
    for (const name of readdirSync(path)) walk(join(path, name), accept);
  }

  for (const root of sourceRoots) walk(join(modules, root), (file) => /\.(c|m)?js$/.test(file) && !file.endsWith('.map'));
  walk(modules, (file) => file.endsWith('.md'));
  return files;
}

describe('personal detectors on clean text', () => {
  it('false positives per MB stay at most 1', () => {
    const files = collectCleanFiles();
    const reviewed = JSON.parse(readFileSync(join(fixtures, 'clean-true-findings.json'), 'utf8')) as {
      findings: Array<{ type: string; value: string }>;
    };
    const trueFindings = new Set(reviewed.findings.map((item) => `${item.type}\u0000${item.value}`));

    let bytes = 0;
    let elapsedMs = 0;
    const truePositives: string[] = [];
    const falsePositives: string[] = [];

    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      bytes += Buffer.byteLength(text);
      const started = performance.now();
      const findings = scanAll(text);
      elapsedMs += performance.now() - started;

      for (const finding of findings) {
        const value = text.slice(finding.start, finding.end);
        const context = text.slice(Math.max(0, finding.start - 30), Math.min(text.length, finding.end + 30)).replace(/\s+/g, ' ');
        const line = `${finding.type} ${JSON.stringify(value)} in ${relative(repoRoot, file)}: ...${context}...`;
        if (trueFindings.has(`${finding.type}\u0000${value}`)) truePositives.push(line);
        else falsePositives.push(line);
      }
    }

    const megabytes = bytes / (1024 * 1024);
    const perMegabyte = falsePositives.length / megabytes;
    console.log(`clean corpus: ${files.length} files, ${megabytes.toFixed(1)} MB`);
    console.log(`throughput: ${(megabytes / (elapsedMs / 1000)).toFixed(1)} MB/s (all personal detectors, one thread)`);
    console.log(`true findings (reviewed): ${truePositives.length}`);
    console.log(`false positives: ${falsePositives.length} = ${perMegabyte.toFixed(2)} per MB`);
    if (falsePositives.length > 0) console.log(`  ${falsePositives.join('\n  ')}`);

    expect(megabytes).toBeGreaterThan(5);
    expect(perMegabyte).toBeLessThanOrEqual(1);
  });
});
