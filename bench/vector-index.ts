// Compares vector search candidates for the semantic cache on random unit vectors.
//
//   npx tsx bench/vector-index.ts
//
// VECTOR_BENCH_COUNT (default 100000), VECTOR_BENCH_DIMENSION (384) and VECTOR_BENCH_QUERIES
// (300) set the workload. The native candidates (sqlite-vec, usearch, hnswlib-node) are not
// project dependencies: set VECTOR_BENCH_NATIVE_DIR to a folder whose node_modules has them
// installed, or they are skipped. Random vectors are a worst case for approximate indexes and
// for the int8 pre-filter, because real embeddings cluster; treat the recall as a lower bound.
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';
import { VectorIndex } from '../gateway-core/src/cache/vector-index.js';

const count = Number(process.env.VECTOR_BENCH_COUNT ?? 100_000);
const dimension = Number(process.env.VECTOR_BENCH_DIMENSION ?? 384);
const queryCount = Number(process.env.VECTOR_BENCH_QUERIES ?? 300);
const nativeDir = process.env.VECTOR_BENCH_NATIVE_DIR;
const k = 10;

interface Row {
  name: string;
  p50: number;
  p99: number;
  insertMicros: number;
  deleteMicros: number;
  memoryMb: number;
  recall: number;
  note: string;
}

// Deterministic generator, so every candidate gets the same vectors.
function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function unitVectors(rows: number, seed: number): Float32Array {
  const random = makeRandom(seed);
  const data = new Float32Array(rows * dimension);
  for (let row = 0; row < rows; row++) {
    let norm = 0;
    for (let j = 0; j < dimension; j++) {
      const value = random() * 2 - 1;
      data[row * dimension + j] = value;
      norm += value * value;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dimension; j++) data[row * dimension + j]! /= norm;
  }
  return data;
}

const rowOf = (data: Float32Array, row: number) => data.subarray(row * dimension, (row + 1) * dimension);

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

function heapMb(): number {
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers + usage.external) / 1e6;
}

// Plain float32 scan written as tightly as plain TypeScript allows: four accumulators.
function scalarTopK(data: Float32Array, rows: number, query: Float32Array, limit: number): number[] {
  const scores = new Float32Array(rows);
  for (let row = 0, base = 0; row < rows; row++, base += dimension) {
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    let j = 0;
    for (; j + 3 < dimension; j += 4) {
      a += data[base + j]! * query[j]!;
      b += data[base + j + 1]! * query[j + 1]!;
      c += data[base + j + 2]! * query[j + 2]!;
      d += data[base + j + 3]! * query[j + 3]!;
    }
    for (; j < dimension; j++) a += data[base + j]! * query[j]!;
    scores[row] = a + b + c + d;
  }
  const order = Array.from({ length: rows }, (_, row) => row);
  order.sort((x, y) => scores[y]! - scores[x]!);
  return order.slice(0, limit);
}

function timeQueries(queries: Float32Array, search: (query: Float32Array) => number[]): { p50: number; p99: number; results: number[][] } {
  for (let i = 0; i < Math.min(20, queryCount); i++) search(rowOf(queries, i));
  const times: number[] = [];
  const results: number[][] = [];
  for (let i = 0; i < queryCount; i++) {
    const started = performance.now();
    results.push(search(rowOf(queries, i)));
    times.push(performance.now() - started);
  }
  times.sort((x, y) => x - y);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), results };
}

function recallAt(results: number[][], truth: number[][]): number {
  let found = 0;
  let total = 0;
  for (let i = 0; i < truth.length; i++) {
    const expected = new Set(truth[i]);
    total += expected.size;
    for (const row of results[i]!) if (expected.has(row)) found++;
  }
  return found / total;
}

// Times `operations` deletes of existing rows followed by re-inserts of the same rows.
function timeChurn(remove: (row: number) => void, insert: (row: number) => void, operations = 1000): { insertMicros: number; deleteMicros: number } {
  const rows = Array.from({ length: operations }, (_, i) => (i * 97) % count);
  let started = performance.now();
  for (const row of rows) remove(row);
  const deleteMicros = ((performance.now() - started) * 1000) / operations;
  started = performance.now();
  for (const row of rows) insert(row);
  const insertMicros = ((performance.now() - started) * 1000) / operations;
  return { insertMicros, deleteMicros };
}

async function main(): Promise<void> {
  console.log(`vectors ${count} × ${dimension}, ${queryCount} queries, top ${k}, node ${process.version}`);
  const data = unitVectors(count, 1);
  const queries = unitVectors(queryCount, 2);
  const table = new ReportTable();

  // Exact reference: a plain float32 scan with a full sort.
  let before = heapMb();
  const scalar = timeQueries(queries, (query) => scalarTopK(data, count, query, k));
  const truth = scalar.results;
  table.push({
    name: 'TS float32 scan, 4 accumulators',
    ...scalar,
    insertMicros: NaN,
    deleteMicros: NaN,
    memoryMb: (count * dimension * 4) / 1e6,
    recall: 1,
    note: 'reference',
  });

  // The index in gateway-core: int8 WebAssembly SIMD scan with exact float32 rescoring.
  before = heapMb();
  const index = new VectorIndex(dimension);
  let started = performance.now();
  for (let row = 0; row < count; row++) index.add('bench', String(row), rowOf(data, row));
  const buildSeconds = (performance.now() - started) / 1000;
  const indexMemory = heapMb() - before;
  const indexed = timeQueries(queries, (query) => index.search('bench', query, k).map((match) => Number(match.id)));
  const indexChurn = timeChurn(
    (row) => index.remove('bench', String(row)),
    (row) => index.add('bench', String(row), rowOf(data, row)),
  );
  table.push({
    name: 'TS VectorIndex (int8 wasm SIMD + exact rescoring)',
    ...indexed,
    ...indexChurn,
    memoryMb: indexMemory,
    recall: recallAt(indexed.results, truth),
    note: `build ${buildSeconds.toFixed(1)} s`,
  });

  if (!nativeDir) {
    console.log('VECTOR_BENCH_NATIVE_DIR is not set: skipping sqlite-vec, usearch and hnswlib-node.');
  } else {
    const requireNative = createRequire(path.join(path.resolve(nativeDir), 'package.json'));
    await benchSqliteVec(requireNative, data, queries, truth, table);
    await benchUsearch(requireNative, data, queries, truth, table);
    await benchHnswlib(requireNative, data, queries, truth, table);
  }

}

// Prints each candidate's row as soon as it is measured, so a later failure keeps earlier rows.
class ReportTable {
  private headerPrinted = false;

  push(row: Row): void {
    if (!this.headerPrinted) {
      console.log('\n| candidate | p50 ms | p99 ms | insert µs | delete µs | memory MB | recall@10 | note |');
      console.log('|---|---|---|---|---|---|---|---|');
      this.headerPrinted = true;
    }
    const cells = [row.p50.toFixed(2), row.p99.toFixed(2), row.insertMicros.toFixed(1), row.deleteMicros.toFixed(1), row.memoryMb.toFixed(0), row.recall.toFixed(4)];
    console.log(`| ${row.name} | ${cells.join(' | ')} | ${row.note} |`);
  }
}

async function benchSqliteVec(requireNative: NodeRequire, data: Float32Array, queries: Float32Array, truth: number[][], table: ReportTable): Promise<void> {
  let sqliteVec: { load(db: Database.Database): void };
  try {
    sqliteVec = requireNative('sqlite-vec');
  } catch (error) {
    console.log(`sqlite-vec skipped: ${(error as Error).message}`);
    return;
  }
  const db = new Database(':memory:');
  sqliteVec.load(db);
  const version = (db.prepare('SELECT vec_version() AS version').get() as { version: string }).version;
  db.exec(`CREATE VIRTUAL TABLE entries USING vec0(embedding float[${dimension}] distance_metric=cosine)`);
  const insert = db.prepare('INSERT INTO entries(rowid, embedding) VALUES (?, ?)');
  const remove = db.prepare('DELETE FROM entries WHERE rowid = ?');
  const vectorBytes = (row: number) => Buffer.from(data.buffer, row * dimension * 4, dimension * 4);
  const started = performance.now();
  db.transaction(() => {
    for (let row = 0; row < count; row++) insert.run(BigInt(row), vectorBytes(row));
  })();
  const buildSeconds = (performance.now() - started) / 1000;
  const search = db.prepare('SELECT rowid, distance FROM entries WHERE embedding MATCH ? AND k = ? ORDER BY distance');
  const timed = timeQueries(queries, (query) =>
    (search.all(Buffer.from(query.buffer, query.byteOffset, query.byteLength), k) as { rowid: number }[]).map((hit) => Number(hit.rowid)),
  );
  const churn = timeChurn(
    (row) => remove.run(BigInt(row)),
    (row) => insert.run(BigInt(row), vectorBytes(row)),
  );
  const pages = db.pragma('page_count', { simple: true }) as number;
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  table.push({
    name: `sqlite-vec ${version} vec0, brute force`,
    ...timed,
    ...churn,
    memoryMb: (pages * pageSize) / 1e6,
    recall: recallAt(timed.results, truth),
    note: `in-memory db, build ${buildSeconds.toFixed(1)} s, one statement per insert/delete, autocommit`,
  });
  db.close();
}

async function benchUsearch(requireNative: NodeRequire, data: Float32Array, queries: Float32Array, truth: number[][], table: ReportTable): Promise<void> {
  let usearch: {
    Index: new (options: { metric: string; connectivity: number; dimensions: number; expansion_add?: number; expansion_search?: number }) => {
      add(keys: bigint | BigUint64Array, vectors: Float32Array): void;
      remove(key: bigint): void;
      search(vector: Float32Array, k: number): { keys: BigUint64Array };
      size(): number;
      memoryUsage?(): number;
    };
  };
  try {
    usearch = requireNative('usearch');
  } catch (error) {
    console.log(`usearch skipped: ${(error as Error).message}`);
    return;
  }
  const before = heapMb();
  const index = new usearch.Index({ metric: 'ip', connectivity: 16, dimensions: dimension, expansion_add: 128, expansion_search: 64 });
  const started = performance.now();
  const keys = new BigUint64Array(count);
  for (let row = 0; row < count; row++) keys[row] = BigInt(row);
  index.add(keys, data);
  const buildSeconds = (performance.now() - started) / 1000;
  const memoryMb = index.memoryUsage ? index.memoryUsage() / 1e6 : heapMb() - before;
  const timed = timeQueries(queries, (query) => Array.from(index.search(query, k).keys, Number));
  const churn = timeChurn(
    (row) => index.remove(BigInt(row)),
    (row) => index.add(BigInt(row), rowOf(data, row)),
  );
  table.push({
    name: 'usearch HNSW (M 16, ef 64)',
    ...timed,
    ...churn,
    memoryMb,
    recall: recallAt(timed.results, truth),
    note: `build ${buildSeconds.toFixed(1)} s (batch add, both cores)`,
  });
}

async function benchHnswlib(requireNative: NodeRequire, data: Float32Array, queries: Float32Array, truth: number[][], table: ReportTable): Promise<void> {
  let hnswlib: {
    HierarchicalNSW: new (space: string, dimension: number) => {
      initIndex(maxElements: number, m?: number, efConstruction?: number, seed?: number, allowReplaceDeleted?: boolean): void;
      addPoint(vector: number[], label: number, replaceDeleted?: boolean): void;
      markDelete(label: number): void;
      setEf(ef: number): void;
      searchKnn(vector: number[], k: number): { neighbors: number[] };
    };
  };
  try {
    hnswlib = requireNative('hnswlib-node');
  } catch (error) {
    console.log(`hnswlib-node skipped: ${(error as Error).message}`);
    return;
  }
  const before = heapMb();
  const index = new hnswlib.HierarchicalNSW('ip', dimension);
  index.initIndex(count, 16, 128, 100, true);
  const started = performance.now();
  for (let row = 0; row < count; row++) index.addPoint(Array.from(rowOf(data, row)), row);
  const buildSeconds = (performance.now() - started) / 1000;
  const memoryMb = heapMb() - before;
  index.setEf(64);
  const timed = timeQueries(queries, (query) => index.searchKnn(Array.from(query), k).neighbors);
  const churn = timeChurn(
    (row) => index.markDelete(row),
    (row) => index.addPoint(Array.from(rowOf(data, row)), row, true),
  );
  table.push({
    name: 'hnswlib-node HNSW (M 16, ef 64)',
    ...timed,
    ...churn,
    memoryMb,
    recall: recallAt(timed.results, truth),
    note: `build ${buildSeconds.toFixed(1)} s (one thread), delete is a tombstone`,
  });
}

await main();
