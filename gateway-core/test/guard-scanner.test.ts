import { describe, expect, it } from 'vitest';
import { personalDetectors } from '../src/guard/detectors/personal/index';
import { createGuardEvent, findingHash } from '../src/guard/event';
import { collectOpenAIChatParts } from '../src/guard/parts';
import { createScanner } from '../src/guard/scanner';
import type { Detector, Finding, FindingCategory } from '../src/guard/types';

/** Creates a detector that reports fixed findings, whatever the text. */
function fixedDetector(category: FindingCategory, findings: Array<Omit<Finding, 'category'>>): Detector {
  return {
    types: [...new Set(findings.map((finding) => finding.type))],
    category,
    scan: () => findings.map((finding) => ({ ...finding, category })),
  };
}

/** A secret detector for tests: `sk_test_` followed by 8 or more letters and digits. */
const fakeSecretDetector: Detector = {
  types: ['fake_token'],
  category: 'secret',
  scan(text) {
    return [...text.matchAll(/sk_test_[A-Za-z0-9]{8,}/g)].map((match) => ({
      type: 'fake_token',
      category: 'secret' as const,
      confidence: 0.95,
      start: match.index,
      end: match.index + match[0].length,
    }));
  },
};

const TEXT = 'x'.repeat(100);

function spans(findings: Finding[]): string[] {
  return findings.map((finding) => `${finding.type}:${finding.start}-${finding.end}`);
}

describe('scanner overlap rule', () => {
  it('prefers a secret over a longer personal finding', () => {
    const scanner = createScanner({
      detectors: [
        fixedDetector('personal', [{ type: 'email', confidence: 1, start: 5, end: 40 }]),
        fixedDetector('secret', [{ type: 'postgres_uri', confidence: 0.5, start: 10, end: 20 }]),
      ],
    });
    expect(spans(scanner.scan(TEXT))).toEqual(['postgres_uri:10-20']);
  });

  it('prefers organization over personal', () => {
    const scanner = createScanner({
      detectors: [
        fixedDetector('personal', [{ type: 'email', confidence: 1, start: 0, end: 30 }]),
        fixedDetector('organization', [{ type: 'code_name', confidence: 0.9, start: 5, end: 12 }]),
      ],
    });
    expect(spans(scanner.scan(TEXT))).toEqual(['code_name:5-12']);
  });

  it('prefers the longer span within a category', () => {
    const scanner = createScanner({
      detectors: [
        fixedDetector('personal', [{ type: 'phone_number', confidence: 1, start: 10, end: 20 }]),
        fixedDetector('personal', [{ type: 'payment_card', confidence: 0.5, start: 8, end: 24 }]),
      ],
    });
    expect(spans(scanner.scan(TEXT))).toEqual(['payment_card:8-24']);
  });

  it('prefers higher confidence at equal length', () => {
    const scanner = createScanner({
      detectors: [
        fixedDetector('personal', [{ type: 'us_ssn', confidence: 0.6, start: 10, end: 21 }]),
        fixedDetector('personal', [{ type: 'phone_number', confidence: 0.8, start: 12, end: 23 }]),
      ],
    });
    expect(spans(scanner.scan(TEXT))).toEqual(['phone_number:12-23']);
  });

  it('breaks a full tie by earlier start, then detector order', () => {
    const byStart = createScanner({
      detectors: [
        fixedDetector('personal', [{ type: 'later', confidence: 0.5, start: 12, end: 22 }]),
        fixedDetector('personal', [{ type: 'earlier', confidence: 0.5, start: 10, end: 20 }]),
      ],
    });
    expect(spans(byStart.scan(TEXT))).toEqual(['earlier:10-20']);

    const byOrder = createScanner({
      detectors: [
        fixedDetector('personal', [{ type: 'first', confidence: 0.5, start: 10, end: 20 }]),
        fixedDetector('personal', [{ type: 'second', confidence: 0.5, start: 10, end: 20 }]),
      ],
    });
    expect(spans(byOrder.scan(TEXT))).toEqual(['first:10-20']);
  });

  it('keeps touching findings and sorts by start', () => {
    const scanner = createScanner({
      detectors: [
        fixedDetector('personal', [
          { type: 'c', confidence: 1, start: 50, end: 60 },
          { type: 'a', confidence: 1, start: 0, end: 10 },
        ]),
        fixedDetector('secret', [{ type: 'b', confidence: 1, start: 10, end: 50 }]),
      ],
    });
    expect(spans(scanner.scan(TEXT))).toEqual(['a:0-10', 'b:10-50', 'c:50-60']);
  });

  it('resolves a chain of overlaps by rank', () => {
    // The secret in the middle wins; both personal findings overlap it and go.
    // The organization finding overlaps only a dropped finding, so it stays.
    const scanner = createScanner({
      detectors: [
        fixedDetector('personal', [
          { type: 'left', confidence: 1, start: 0, end: 12 },
          { type: 'right', confidence: 1, start: 18, end: 40 },
        ]),
        fixedDetector('secret', [{ type: 'middle', confidence: 1, start: 10, end: 20 }]),
        fixedDetector('organization', [{ type: 'tail', confidence: 1, start: 30, end: 45 }]),
      ],
    });
    expect(spans(scanner.scan(TEXT))).toEqual(['middle:10-20', 'tail:30-45']);
  });

  it('drops empty, reversed and out-of-range spans', () => {
    const scanner = createScanner({
      detectors: [
        fixedDetector('personal', [
          { type: 'empty', confidence: 1, start: 5, end: 5 },
          { type: 'reversed', confidence: 1, start: 9, end: 6 },
          { type: 'outside', confidence: 1, start: 90, end: 101 },
          { type: 'negative', confidence: 1, start: -1, end: 3 },
          { type: 'fraction', confidence: 1, start: 1.5, end: 3 },
          { type: 'valid', confidence: 1, start: 90, end: 100 },
        ]),
      ],
    });
    expect(spans(scanner.scan(TEXT))).toEqual(['valid:90-100']);
  });

  it('returns nothing for an empty text', () => {
    const scanner = createScanner({ detectors: [fixedDetector('secret', [{ type: 'any', confidence: 1, start: 0, end: 1 }])] });
    expect(scanner.scan('')).toEqual([]);
  });

  it('propagates a detector exception', () => {
    const failing: Detector = { types: ['broken'], category: 'secret', scan: () => { throw new Error('detector failed'); } };
    expect(() => createScanner({ detectors: [failing] }).scan('text')).toThrow('detector failed');
  });

  it('scans real personal detectors with a fake secret', () => {
    const scanner = createScanner({ detectors: [fakeSecretDetector, ...personalDetectors] });
    const text = 'Mail alice@example.com the key sk_test_Ab12Cd34Ef56 today';
    const findings = scanner.scan(text);
    expect(findings.map((finding) => text.slice(finding.start, finding.end))).toEqual(['alice@example.com', 'sk_test_Ab12Cd34Ef56']);
    expect(findings.map((finding) => finding.category)).toEqual(['personal', 'secret']);
  });
});

describe('guard events', () => {
  const key = Buffer.alloc(32, 7);

  it('hashes values with a key', () => {
    const hash = findingHash(key, 'alice@example.com');
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(findingHash(key, 'alice@example.com')).toBe(hash);
    expect(findingHash(key, 'bob@example.com')).not.toBe(hash);
    expect(findingHash(Buffer.alloc(32, 8), 'alice@example.com')).not.toBe(hash);
  });

  it('rejects a short hash key', () => {
    expect(() => findingHash(Buffer.alloc(8), 'value')).toThrow('too short');
  });

  it('builds an event without the value', () => {
    const [part] = collectOpenAIChatParts({ messages: [{ role: 'user', content: 'mail alice@example.com now' }] });
    const event = createGuardEvent(part!, { type: 'email', category: 'personal', confidence: 1, start: 5, end: 22 }, 'redact', key);
    expect(event).toEqual({
      type: 'email',
      category: 'personal',
      action: 'redact',
      path: 'messages[0].content',
      messageIndex: 0,
      offset: 5,
      length: 17,
      valueHash: findingHash(key, 'alice@example.com'),
    });
    expect(JSON.stringify(event)).not.toContain('alice');
  });
});
