import { describe, expect, it } from 'vitest';
import { VectorIndex } from '../src/cache/vector-index.js';

function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

function unitVector(random: () => number, dimension: number): Float32Array {
  const vector = new Float32Array(dimension);
  let norm = 0;
  for (let j = 0; j < dimension; j++) {
    vector[j] = random() * 2 - 1;
    norm += vector[j]! * vector[j]!;
  }
  norm = Math.sqrt(norm);
  for (let j = 0; j < dimension; j++) vector[j]! /= norm;
  return vector;
}

// Mixes `base` with noise, so many stored vectors score close to one another.
function nearVector(random: () => number, base: Float32Array, noise: number): Float32Array {
  const mixed = base.map((value) => value + (random() * 2 - 1) * noise);
  let norm = 0;
  for (const value of mixed) norm += value * value;
  return mixed.map((value) => value / Math.sqrt(norm));
}

function naiveSearch(entries: Map<string, Float32Array>, query: Float32Array, k: number) {
  const scored = [...entries].map(([id, vector]) => {
    let score = 0;
    for (let j = 0; j < vector.length; j++) score += vector[j]! * query[j]!;
    return { id, score };
  });
  scored.sort((a, b) => b.score - a.score);
  return scored.slice(0, k);
}

function expectSameMatches(actual: { id: string; score: number }[], expected: { id: string; score: number }[]): void {
  expect(actual.map((match) => match.id)).toEqual(expected.map((match) => match.id));
  actual.forEach((match, i) => expect(match.score).toBeCloseTo(expected[i]!.score, 6));
}

describe('VectorIndex', () => {
  it('matches naive search on random vectors', () => {
    const random = makeRandom(1);
    const dimension = 384;
    const index = new VectorIndex(dimension);
    const entries = new Map<string, Float32Array>();
    for (let i = 0; i < 3000; i++) {
      const vector = unitVector(random, dimension);
      entries.set(`e${i}`, vector);
      index.add('ns', `e${i}`, vector);
    }

    for (let q = 0; q < 25; q++) {
      const query = unitVector(random, dimension);
      expectSameMatches(index.search('ns', query, 10), naiveSearch(entries, query, 10));
    }
  });

  it('matches naive search on clustered vectors', () => {
    const random = makeRandom(2);
    const dimension = 100;
    const index = new VectorIndex(dimension);
    const entries = new Map<string, Float32Array>();
    const centre = unitVector(random, dimension);
    for (let i = 0; i < 2000; i++) {
      const vector = nearVector(random, centre, 0.02);
      entries.set(`e${i}`, vector);
      index.add('ns', `e${i}`, vector);
    }

    for (let q = 0; q < 25; q++) {
      const query = nearVector(random, centre, 0.02);
      expectSameMatches(index.search('ns', query, 5), naiveSearch(entries, query, 5));
    }
  });

  it('leaves out matches below minScore', () => {
    const random = makeRandom(7);
    const dimension = 96;
    const index = new VectorIndex(dimension);
    const entries = new Map<string, Float32Array>();
    const centre = unitVector(random, dimension);
    for (let i = 0; i < 3000; i++) {
      // Half the rows sit near the centre, half are random, so scores spread from about 0 to 1.
      const vector = i % 2 === 0 ? nearVector(random, centre, 0.05 + (i % 7) * 0.05) : unitVector(random, dimension);
      entries.set(`e${i}`, vector);
      index.add('ns', `e${i}`, vector);
    }

    for (const minScore of [0.3, 0.6, 0.9]) {
      for (let q = 0; q < 10; q++) {
        const query = nearVector(random, centre, 0.05);
        const expected = naiveSearch(entries, query, 8).filter((match) => match.score >= minScore);
        const matches = index.search('ns', query, 8, minScore);
        expectSameMatches(matches, expected);
        for (const match of matches) expect(match.score).toBeGreaterThanOrEqual(minScore);
      }
    }
    expect(index.search('ns', centre, 3, 1.5)).toEqual([]);
    expect(() => index.search('ns', centre, 3, Number.NaN)).toThrow(/minScore/);
  });

  it('finds a stored vector with score 1', () => {
    const random = makeRandom(3);
    const index = new VectorIndex(48);
    const vectors = Array.from({ length: 50 }, () => unitVector(random, 48));
    vectors.forEach((vector, i) => index.add('ns', `e${i}`, vector));

    const [best] = index.search('ns', vectors[17]!);
    expect(best?.id).toBe('e17');
    expect(best?.score).toBeCloseTo(1, 6);
  });

  it('returns fewer than k when the namespace is small', () => {
    const index = new VectorIndex(3);
    index.add('ns', 'a', [1, 0, 0]);
    index.add('ns', 'b', [0, 1, 0]);

    const matches = index.search('ns', [1, 0, 0], 10);
    expect(matches.map((match) => match.id)).toEqual(['a', 'b']);
  });

  it('removes entries and keeps the rest searchable', () => {
    const random = makeRandom(4);
    const dimension = 64;
    const index = new VectorIndex(dimension);
    const entries = new Map<string, Float32Array>();
    for (let i = 0; i < 500; i++) {
      const vector = unitVector(random, dimension);
      entries.set(`e${i}`, vector);
      index.add('ns', `e${i}`, vector);
    }

    for (let i = 0; i < 500; i += 3) {
      expect(index.remove('ns', `e${i}`)).toBe(true);
      entries.delete(`e${i}`);
    }
    expect(index.size('ns')).toBe(entries.size);
    expect(index.has('ns', 'e0')).toBe(false);
    expect(index.has('ns', 'e1')).toBe(true);

    for (let q = 0; q < 20; q++) {
      const query = unitVector(random, dimension);
      expectSameMatches(index.search('ns', query, 5), naiveSearch(entries, query, 5));
    }
    const removedVector = unitVector(makeRandom(4), dimension);
    expect(index.search('ns', removedVector, 500).map((match) => match.id)).not.toContain('e0');
  });

  it('returns false when removing an unknown id', () => {
    const index = new VectorIndex(2);
    expect(index.remove('ns', 'missing')).toBe(false);
    index.add('ns', 'a', [1, 0]);
    expect(index.remove('ns', 'missing')).toBe(false);
    expect(index.remove('other', 'a')).toBe(false);
    expect(index.size('ns')).toBe(1);
  });

  it('replaces the vector of an existing id', () => {
    const index = new VectorIndex(2);
    index.add('ns', 'a', [1, 0]);
    index.add('ns', 'a', [0, 1]);

    expect(index.size('ns')).toBe(1);
    const [best] = index.search('ns', [0, 1]);
    expect(best?.id).toBe('a');
    expect(best?.score).toBeCloseTo(1, 6);
  });

  it('keeps namespaces isolated', () => {
    const index = new VectorIndex(2);
    index.add('alpha', 'a', [1, 0]);
    index.add('beta', 'b', [0, 1]);
    index.add('beta', 'a', [0, -1]);

    expect(index.search('alpha', [0, 1], 5).map((match) => match.id)).toEqual(['a']);
    expect(index.search('beta', [1, 0], 5).map((match) => match.id).sort()).toEqual(['a', 'b']);
    expect(index.size('alpha')).toBe(1);
    expect(index.size('beta')).toBe(2);
    expect(index.size()).toBe(3);

    index.remove('beta', 'a');
    expect(index.has('alpha', 'a')).toBe(true);
    expect(index.search('alpha', [1, 0])[0]?.score).toBeCloseTo(1, 6);
  });

  it('returns no matches for an empty index', () => {
    const index = new VectorIndex(4);
    expect(index.search('ns', [1, 0, 0, 0], 3)).toEqual([]);
    expect(index.size()).toBe(0);
    expect(index.memoryBytes()).toBe(0);

    index.add('ns', 'a', [1, 0, 0, 0]);
    index.remove('ns', 'a');
    expect(index.search('ns', [1, 0, 0, 0], 3)).toEqual([]);
  });

  it('rejects vectors of the wrong dimension', () => {
    const index = new VectorIndex(3);
    expect(() => index.add('ns', 'a', [1, 0])).toThrow(/length 2.*3-dimensional/);
    expect(() => index.add('ns', 'a', new Float32Array(4))).toThrow(RangeError);
    index.add('ns', 'a', [1, 0, 0]);
    expect(() => index.search('ns', [1, 0, 0, 0])).toThrow(/Invalid query length 4/);
    expect(index.size('ns')).toBe(1);
  });

  it('rejects non-finite elements, bad k and bad dimensions', () => {
    const index = new VectorIndex(2);
    expect(() => index.add('ns', 'a', [Number.NaN, 0])).toThrow(/element 0 is NaN/);
    expect(() => index.search('ns', [0, Number.POSITIVE_INFINITY])).toThrow(/element 1 is Infinity/);
    expect(() => index.search('ns', [1, 0], 0)).toThrow(/Invalid k 0/);
    expect(() => index.search('ns', [1, 0], 1.5)).toThrow(/Invalid k 1.5/);
    expect(() => new VectorIndex(0)).toThrow(/Invalid vector dimension 0/);
    expect(() => new VectorIndex(2.5)).toThrow(RangeError);
  });

  it('handles zero vectors and dimensions beyond one block', () => {
    const index = new VectorIndex(33);
    const zero = new Float32Array(33);
    const last = new Float32Array(33);
    last[32] = 1;
    index.add('ns', 'zero', zero);
    index.add('ns', 'last', last);

    const matches = index.search('ns', last, 2);
    expect(matches.map((match) => match.id)).toEqual(['last', 'zero']);
    expect(matches[1]?.score).toBe(0);
    expect(index.search('ns', zero, 2).map((match) => match.score)).toEqual([0, 0]);
  });

  it('grows past its initial capacity', () => {
    const random = makeRandom(5);
    const index = new VectorIndex(16);
    const entries = new Map<string, Float32Array>();
    for (let i = 0; i < 5000; i++) {
      const vector = unitVector(random, 16);
      entries.set(`e${i}`, vector);
      index.add('ns', `e${i}`, vector);
    }

    expect(index.size('ns')).toBe(5000);
    expect(index.memoryBytes()).toBeGreaterThan(5000 * 16 * 4);
    const query = unitVector(random, 16);
    expectSameMatches(index.search('ns', query, 3), naiveSearch(entries, query, 3));
  });
});
