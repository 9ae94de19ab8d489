import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { secretDetectors } from '../src/guard/detectors/secrets/index.js';
import type { Finding } from '../src/guard/types.js';

const fixtures = new URL('./fixtures/guard/secrets/', import.meta.url);

interface CorpusEntry {
  text: string;
  /** Where the snippet comes from: code, config, log, stack_trace, chat_en, chat_vi, shell, http, data or plain. */
  surrounding?: string;
  expect?: { type: string; value: string }[];
}

/** Surroundings in which every detector must have at least one snippet. */
const REQUIRED_SURROUNDINGS = ['code', 'config', 'log', 'stack_trace', 'chat_en', 'chat_vi'];
const KNOWN_SURROUNDINGS = new Set([...REQUIRED_SURROUNDINGS, 'shell', 'http', 'data', 'plain']);

function readCorpus(name: string): CorpusEntry[] {
  return readFileSync(new URL(name, fixtures), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CorpusEntry);
}

function scanAll(text: string): Finding[] {
  return secretDetectors.flatMap((detector) => detector.scan(text));
}

/** Type and value of each finding, each span once, in text order. */
function reported(text: string): [string, string][] {
  return distinctSpans(scanAll(text))
    .sort((left, right) => left.start - right.start)
    .map((finding) => [finding.type, text.slice(finding.start, finding.end)]);
}

/** Findings with distinct spans, so two detectors reporting the same value count once. */
function distinctSpans(findings: Finding[]): Finding[] {
  const seen = new Map<string, Finding>();
  for (const finding of findings) seen.set(`${finding.start}:${finding.end}`, finding);
  return [...seen.values()];
}

describe('secret detectors', () => {
  it('every finding is well formed', () => {
    const text = readCorpus('positive.jsonl').map((entry) => entry.text).join('\n\n');
    for (const detector of secretDetectors) {
      for (const finding of detector.scan(text)) {
        expect(detector.types).toContain(finding.type);
        expect(finding.category).toBe('secret');
        expect(finding.confidence).toBeGreaterThan(0);
        expect(finding.confidence).toBeLessThanOrEqual(1);
        expect(finding.start).toBeLessThan(finding.end);
      }
    }
  });

  it('positive corpus covers every type', () => {
    const counts = new Map<string, number>();
    for (const entry of readCorpus('positive.jsonl')) {
      for (const want of entry.expect ?? []) counts.set(want.type, (counts.get(want.type) ?? 0) + 1);
    }
    for (const type of secretDetectors.flatMap((detector) => detector.types)) {
      expect(counts.get(type) ?? 0, type).toBeGreaterThanOrEqual(3);
    }
  });

  it('positive corpus covers every surrounding', () => {
    const corpus = readCorpus('positive.jsonl');
    for (const entry of corpus) expect(KNOWN_SURROUNDINGS, entry.text.slice(0, 80)).toContain(entry.surrounding);
    for (const detector of secretDetectors) {
      const surroundings = new Set(
        corpus
          .filter((entry) => (entry.expect ?? []).some((want) => detector.types.includes(want.type)))
          .map((entry) => entry.surrounding),
      );
      for (const surrounding of REQUIRED_SURROUNDINGS) {
        expect(surroundings, `${detector.types[0]} in ${surrounding}`).toContain(surrounding);
      }
    }
  });

  it('positive corpus recall is at least 0.99', () => {
    const corpus = readCorpus('positive.jsonl');
    expect(corpus.length).toBeGreaterThanOrEqual(300);
    let expected = 0;
    let found = 0;
    const missed: string[] = [];
    for (const entry of corpus) {
      const findings = scanAll(entry.text);
      for (const want of entry.expect ?? []) {
        expected++;
        const hit = findings.some(
          (finding) => finding.type === want.type && entry.text.slice(finding.start, finding.end) === want.value,
        );
        if (hit) found++;
        else missed.push(`${want.type}: ${JSON.stringify(entry.text.slice(0, 160))}`);
      }
    }
    const recall = found / expected;
    console.log(`secret detectors: recall ${recall.toFixed(4)} (${found}/${expected} values in ${corpus.length} snippets)`);
    if (missed.length > 0) console.log(`missed:\n${missed.join('\n')}`);
    expect(recall).toBeGreaterThanOrEqual(0.99);
  });

  it('negative snippets report nothing', () => {
    for (const entry of readCorpus('negative.jsonl')) {
      const reported = scanAll(entry.text).map((finding) => `${finding.type}=${entry.text.slice(finding.start, finding.end)}`);
      expect(reported, entry.text).toEqual([]);
    }
  });

  it('span offsets are UTF-16 indices', () => {
    const token = 'ghp_' + 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5';
    const text = `Khoá bí mật 🔑 của mình: ${token} đừng chia sẻ nhé`;
    const findings = scanAll(text).filter((finding) => finding.type === 'github_token');
    expect(findings).toHaveLength(1);
    expect(text.slice(findings[0]!.start, findings[0]!.end)).toBe(token);
  });

  it('uri password ends at last @ before host', () => {
    const text = 'postgresql+psycopg2://svc:p@ss!w0rd$@db.internal:5432/app';
    const finding = scanAll(text).find((f) => f.type === 'postgres_uri');
    expect(finding && text.slice(finding.start, finding.end)).toBe('p@ss!w0rd$');
  });

  it('uri without password reports nothing', () => {
    expect(scanAll('mongodb+srv://cluster0.ab1cd.mongodb.net/app?retryWrites=true')).toEqual([]);
    expect(scanAll('redis://cache-user@redis.internal:6379')).toEqual([]);
  });

  it('odbc braced value keeps semicolons', () => {
    const text = 'DRIVER={ODBC Driver 18};SERVER=sql01;UID=hr;PWD={Qw9;x=}}Z7!};';
    const finding = scanAll(text).find((f) => f.type === 'connection_string_password');
    expect(finding && text.slice(finding.start, finding.end)).toBe('Qw9;x=}}Z7!');
  });

  it('aws secret needs aws context', () => {
    const bare = 'checksum wJ8rXUtnFEMI/K7MDENG/bPxRfiCYz1KLMnoPq2R in the manifest';
    expect(scanAll(bare)).toEqual([]);
  });

  it('jwt needs a header with alg', () => {
    const header = Buffer.from('{"typ":"JWT"}').toString('base64url');
    const payload = Buffer.from('{"sub":"12345678"}').toString('base64url');
    expect(scanAll(`${header}.${payload}.c2lnbmF0dXJlLWJ5dGVz`).filter((f) => f.type === 'jwt')).toEqual([]);
  });

  it('unterminated pem block spans its body', () => {
    const body = 'MIIEowIBAAKCAQEAx7'.padEnd(64, 'Q') + '\n' + 'Zk3'.padEnd(64, 'w');
    const text = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n(pasted only the start)`;
    const finding = scanAll(text).find((f) => f.type === 'private_key');
    expect(finding && text.slice(finding.start, finding.end)).toBe(`-----BEGIN RSA PRIVATE KEY-----\n${body}`);
  });

  it('long flag value after a space', () => {
    expect(reported('mongosh --username app --password Hq7!zR2mKx9 --authenticationDatabase admin')).toEqual([
      ['generic_password', 'Hq7!zR2mKx9'],
    ]);
    expect(reported('./deploy.sh --db-password "Zr8!kq2Lm4" --env prod')).toEqual([['generic_password', 'Zr8!kq2Lm4']]);
    expect(reported('acme-cli sync --api-key Xk29fjQ0zLm4Qp7w --region eu')).toEqual([['generic_api_key', 'Xk29fjQ0zLm4Qp7w']]);
  });

  it('flag value may be a dotted word', () => {
    expect(reported('pg_restore --db-password=RggjKsQ.cuyn07 dump.pgc')).toEqual([['generic_password', 'RggjKsQ.cuyn07']]);
    expect(reported('mysqldump -u backup -pRggjKsQ.cuyn07 shop')).toEqual([['generic_password', 'RggjKsQ.cuyn07']]);
  });

  it('mysql short password flag', () => {
    expect(reported("mysql -u root -p'Kq9#mZ2x' shop")).toEqual([['generic_password', 'Kq9#mZ2x']]);
    expect(reported('mysql -u root -p"Kq9#mZ2x" shop')).toEqual([['generic_password', 'Kq9#mZ2x']]);
    expect(reported('$ mysqldump -uroot -pKq9mZ2xT3 --all-databases > all.sql')).toEqual([['generic_password', 'Kq9mZ2xT3']]);
    expect(reported('os.system("mysql -u app -p\'Kq9#mZ2x\' shop")')).toEqual([['generic_password', 'Kq9#mZ2x']]);
  });

  it('unquoted -p needs a mysql command', () => {
    expect(reported('some-tool -pKq9mZ2xT3 --verbose')).toEqual([]);
    expect(reported('mysql -u root -p orders')).toEqual([]);
  });

  it('mysql --password takes no spaced value', () => {
    // MySQL's clients read `--password orders` as a password prompt and the database `orders`.
    expect(reported('mysql -u app --password app_orders_2024')).toEqual([]);
    expect(reported('mysql -u app --password=Hq7!zR2mKx9 orders')).toEqual([['generic_password', 'Hq7!zR2mKx9']]);
  });

  it('flags without a literal value report nothing', () => {
    for (const text of [
      'mkdir -p /srv/app/logs && cp -p config.yml /srv/app/',
      'ssh -p2222 deploy@bastion.internal',
      'docker run -p8080:80 nginx:1.27',
      'git log -p --follow -- src/auth.ts',
      './deploy.sh --db-password "$DB_PASSWORD" --env prod',
      'mysql -u root -p"$MYSQL_ROOT_PASSWORD" -e "SHOW DATABASES"',
      'app --api-key ${API_KEY} --verbose',
      'pg_dump --password --no-owner app',
      'backup --password orders',
    ]) {
      expect(reported(text), text).toEqual([]);
    }
  });

  it('azure account_key in json', () => {
    const key = 'q8Zk2mW9vXbN4pL7rT1sY6uH3jF5gD0cA8eB2nM4kQ7wE9rT1yU3iO5pA7sD9fG1hJ3kL5zX7cV9bN1mQ3wE5r==';
    expect(reported(`{"storage": {"account_name": "acmedata", "account_key": "${key}"}}`)).toEqual([['azure_storage_account_key', key]]);
  });

  it('long adversarial input scans in linear time', () => {
    const inputs = [
      'password='.repeat(40_000),
      'a'.repeat(400_000),
      'postgres://' + 'u:'.repeat(100_000),
      '-----BEGIN PRIVATE KEY-----' + 'A'.repeat(300_000),
      'eyJ' + 'a.'.repeat(150_000),
      '"' + 'token": "'.repeat(40_000),
    ];
    for (const input of inputs) {
      const started = performance.now();
      scanAll(input);
      expect(performance.now() - started, input.slice(0, 30)).toBeLessThan(1000);
    }
  });
});

/** Real JavaScript from installed packages, leaving out test and example folders that may hold sample keys. */
function collectCleanFiles(): string[] {
  const roots = ['typescript/lib', 'express', 'zod', 'openai', '@anthropic-ai/sdk', 'pino', 'yaml', 'vitest', 'better-sqlite3'];
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (/test|fixture|example|__mocks__/i.test(name)) continue;
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (/\.(?:c|m)?js$/.test(name)) files.push(path);
    }
  };
  for (const root of roots) {
    const dir = join('node_modules', root);
    try {
      statSync(dir);
    } catch {
      continue;
    }
    walk(dir);
  }
  return files;
}

describe('secret detectors on clean text', () => {
  it('false positives stay under 1 per MB', () => {
    const texts = collectCleanFiles().map((path) => ({ path, text: readFileSync(path, 'utf8') }));
    const megabytes = texts.reduce((sum, { text }) => sum + Buffer.byteLength(text), 0) / 1e6;
    expect(megabytes).toBeGreaterThan(5);

    const reports: string[] = [];
    const started = performance.now();
    for (const { path, text } of texts) {
      for (const finding of distinctSpans(scanAll(text))) {
        reports.push(`${finding.type} ${path}: ${JSON.stringify(text.slice(Math.max(0, finding.start - 30), finding.end + 10))}`);
      }
    }
    const seconds = (performance.now() - started) / 1000;

    const perMegabyte = reports.length / megabytes;
    console.log(
      `secret detectors on ${texts.length} files, ${megabytes.toFixed(1)} MB: ${reports.length} false positives ` +
        `(${perMegabyte.toFixed(3)} per MB), ${(megabytes / seconds).toFixed(1)} MB/s`,
    );
    if (reports.length > 0) console.log(reports.join('\n'));
    expect(perMegabyte).toBeLessThanOrEqual(1);
  });

  it('400 KB prompt timing', () => {
    const source = readFileSync(join('node_modules', 'typescript', 'lib', 'typescript.js'), 'utf8').slice(0, 400_000);
    scanAll(source);
    const runs = 5;
    const started = performance.now();
    for (let i = 0; i < runs; i++) scanAll(source);
    const milliseconds = (performance.now() - started) / runs;
    console.log(`secret detectors: 400 KB of source scanned in ${milliseconds.toFixed(2)} ms`);
  });
});
