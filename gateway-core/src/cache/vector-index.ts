// Exact nearest-neighbour search for the semantic response cache.
//
// Each namespace keeps its vectors twice: as float32 rows for exact scores and as int8 codes in
// WebAssembly memory, where a SIMD kernel scans all rows. The int8 score of every row comes with
// an upper bound on its error, so only rows whose bound overlaps the current top k are rescored
// in float32, and the result equals a full float32 scan. Vectors are expected to be L2-normalised,
// which makes the dot product the cosine similarity.
//
// The scan is hand-written because the libraries measured slower at 100,000 rows of 384
// dimensions (bench/vector-index.ts): sqlite-vec's brute force took 41 ms at p50 and a scalar
// TypeScript scan 35 to 45 ms, against 3.2 ms for this kernel.

export interface VectorMatch {
  id: string;
  score: number;
}

// Hand-assembled WebAssembly module, which needs WebAssembly SIMD (enabled by default in Node 20):
//   dot_i8(codes, query16, rows, stride, out)
// For each of `rows` rows of `stride` int8 codes starting at `codes`, stores the int32 dot product
// with the query at `query16` (stride int16 values) to out[row]. `stride` is a multiple of 32.
function assembleKernel(): Uint8Array {
  const uleb = (value: number): number[] => {
    const bytes: number[] = [];
    do {
      let byte = value & 0x7f;
      value >>>= 7;
      if (value !== 0) byte |= 0x80;
      bytes.push(byte);
    } while (value !== 0);
    return bytes;
  };
  const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
  const name = (text: string): number[] => [...uleb(text.length), ...Buffer.from(text, 'ascii')];

  const I32 = 0x7f;
  const V128 = 0x7b;
  const get = (index: number) => [0x20, index];
  const set = (index: number) => [0x21, index];
  const simd = (opcode: number) => [0xfd, ...uleb(opcode)];
  const load = (offset: number) => [...simd(0x00), 0x04, ...uleb(offset)];
  const i32Add = 0x6a;
  const dotI16 = simd(0xba);
  const addI32x4 = simd(0xae);
  const extendLowS = simd(0x87);
  const extendHighS = simd(0x88);

  // Parameters 0..4: codes, query16, rows, stride, out. Locals 5..9: row end, column, column
  // end, accumulator A, accumulator B.
  const [codes, query16, rows, stride, out] = [0, 1, 2, 3, 4];
  const [rowEnd, column, columnEnd, accA, accB] = [5, 6, 7, 8, 9];

  // One step covers 32 codes: two 16-byte loads, each widened to two int16x8 halves.
  const step = (codeOffset: number, queryOffset: number, acc: number) => [
    ...get(acc),
    ...get(column), ...load(codeOffset), ...extendLowS,
    ...get(query16), ...load(queryOffset), ...dotI16,
    ...addI32x4,
    ...get(column), ...load(codeOffset), ...extendHighS,
    ...get(query16), ...load(queryOffset + 16), ...dotI16,
    ...addI32x4,
    ...set(acc),
  ];

  const zero = [...simd(0x0c), ...new Array<number>(16).fill(0)];
  const lane = (acc: number, index: number) => [...get(acc), ...simd(0x1b), index];

  const body = [
    // locals: 3 × i32, 2 × v128
    2, 3, I32, 2, V128,
    // rowEnd = codes + rows * stride
    ...get(codes), ...get(rows), ...get(stride), 0x6c, i32Add, ...set(rowEnd),
    0x02, 0x40, // block
    0x03, 0x40, // loop over rows
    ...get(codes), ...get(rowEnd), 0x4f, 0x0d, 1, // break when codes >= rowEnd
    ...zero, ...set(accA), ...zero, ...set(accB),
    ...get(codes), ...set(column),
    ...get(codes), ...get(stride), i32Add, ...set(columnEnd),
    0x03, 0x40, // loop over columns
    ...step(0, 0, accA),
    ...step(16, 32, accB),
    ...get(query16), 0x41, 0xc0, 0x00, i32Add, ...set(query16), // i32.const 64 (signed LEB128)
    ...get(column), 0x41, 32, i32Add, 0x22, column, // local.tee column
    ...get(columnEnd), 0x49, 0x0d, 0, // continue while column < columnEnd
    0x0b,
    // Rewind the query pointer: it advanced by 2 × stride bytes.
    ...get(query16), ...get(stride), 0x41, 1, 0x74, 0x6b, ...set(query16),
    // out[row] = sum of the eight lanes
    ...get(out),
    ...lane(accA, 0), ...lane(accA, 1), i32Add, ...lane(accA, 2), i32Add, ...lane(accA, 3), i32Add,
    ...lane(accB, 0), i32Add, ...lane(accB, 1), i32Add, ...lane(accB, 2), i32Add, ...lane(accB, 3), i32Add,
    0x36, 0x02, 0x00, // i32.store
    ...get(out), 0x41, 4, i32Add, ...set(out),
    ...get(codes), ...get(stride), i32Add, ...set(codes),
    0x0c, 0, // next row
    0x0b, // end loop
    0x0b, // end block
    0x0b, // end function
  ];

  const module = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 0]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('dot_i8'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ];
  return Uint8Array.from(module);
}

// The project's TypeScript lib setting (ES2023, no DOM) has no WebAssembly declarations, so
// this declares the part of the API the index uses.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let kernelModule: object | undefined;

function compiledKernel(): object {
  kernelModule ??= new wasm.Module(assembleKernel());
  return kernelModule;
}

const WASM_PAGE = 65536;
const INITIAL_CAPACITY = 1024;

// Per-namespace storage. Row order is arbitrary: removal moves the last row into the gap.
class NamespaceStore {
  readonly stride: number;
  capacity = 0;
  count = 0;
  ids: string[] = [];
  readonly rowOf = new Map<string, number>();
  vectors: Float32Array = new Float32Array(0);
  // Per row: scale of the int8 code, norm of the code times its scale, and the L2 norm of
  // the quantisation residual. The last two bound the error of the int8 score.
  scales: Float32Array = new Float32Array(0);
  codeNorms: Float32Array = new Float32Array(0);
  residualNorms: Float32Array = new Float32Array(0);
  approx = new Float32Array(0);
  bounds = new Float32Array(0);
  keptRows = new Int32Array(0);
  private readonly memory: WasmMemory;
  private readonly dotI8: (codes: number, query16: number, rows: number, stride: number, out: number) => void;

  constructor(readonly dimension: number) {
    this.stride = Math.ceil(dimension / 32) * 32;
    this.memory = new wasm.Memory({ initial: 1 });
    const instance = new wasm.Instance(compiledKernel(), { env: { memory: this.memory } });
    this.dotI8 = instance.exports.dot_i8 as NamespaceStore['dotI8'];
    this.grow(INITIAL_CAPACITY);
  }

  // Memory layout: [query as int16: 2 × stride][int32 dots: 4 × capacity][codes: stride × capacity].
  private get dotsOffset(): number {
    return 2 * this.stride;
  }

  private get codesOffset(): number {
    return this.dotsOffset + 4 * this.capacity;
  }

  private grow(capacity: number): void {
    const oldCodes = new Int8Array(this.memory.buffer, this.codesOffset, this.count * this.stride).slice();
    const needed = 2 * this.stride + 4 * capacity + this.stride * capacity;
    const pages = Math.ceil(needed / WASM_PAGE) - this.memory.buffer.byteLength / WASM_PAGE;
    if (pages > 0) this.memory.grow(pages);
    this.capacity = capacity;
    new Int8Array(this.memory.buffer, this.codesOffset, oldCodes.length).set(oldCodes);

    const resize = (old: Float32Array, size: number): Float32Array => {
      const next = new Float32Array(size);
      next.set(old.subarray(0, Math.min(old.length, size)));
      return next;
    };
    this.vectors = resize(this.vectors, capacity * this.dimension);
    // Scratch space for a search, kept so that a search allocates nothing per row.
    this.approx = new Float32Array(capacity);
    this.bounds = new Float32Array(capacity);
    this.keptRows = new Int32Array(capacity);
    this.scales = resize(this.scales, capacity);
    this.codeNorms = resize(this.codeNorms, capacity);
    this.residualNorms = resize(this.residualNorms, capacity);
  }

  codesView(): Int8Array {
    return new Int8Array(this.memory.buffer, this.codesOffset, this.capacity * this.stride);
  }

  add(id: string, vector: Float32Array | readonly number[]): void {
    let row = this.rowOf.get(id);
    if (row === undefined) {
      if (this.count === this.capacity) this.grow(this.capacity * 2);
      row = this.count++;
      this.ids[row] = id;
      this.rowOf.set(id, row);
    }
    this.vectors.set(vector, row * this.dimension);

    let maxAbs = 0;
    for (let j = 0; j < this.dimension; j++) maxAbs = Math.max(maxAbs, Math.abs(vector[j]!));
    const scale = maxAbs === 0 ? 1 : maxAbs / 127;
    const codes = this.codesView();
    const base = row * this.stride;
    let codeNormSquared = 0;
    let residualSquared = 0;
    for (let j = 0; j < this.stride; j++) {
      const value = j < this.dimension ? vector[j]! : 0;
      const code = Math.round(value / scale);
      codes[base + j] = code;
      codeNormSquared += code * scale * (code * scale);
      residualSquared += (value - code * scale) ** 2;
    }
    this.scales[row] = scale;
    this.codeNorms[row] = Math.sqrt(codeNormSquared);
    this.residualNorms[row] = Math.sqrt(residualSquared);
  }

  remove(id: string): boolean {
    const row = this.rowOf.get(id);
    if (row === undefined) return false;
    this.rowOf.delete(id);
    const last = --this.count;
    if (row !== last) {
      const lastId = this.ids[last]!;
      this.ids[row] = lastId;
      this.rowOf.set(lastId, row);
      this.vectors.copyWithin(row * this.dimension, last * this.dimension, (last + 1) * this.dimension);
      this.codesView().copyWithin(row * this.stride, last * this.stride, (last + 1) * this.stride);
      this.scales[row] = this.scales[last]!;
      this.codeNorms[row] = this.codeNorms[last]!;
      this.residualNorms[row] = this.residualNorms[last]!;
    }
    this.ids.length = this.count;
    return true;
  }

  // Computes the int8 dot product of every row with the query; returns the query's scale and the
  // L2 norm of its own quantisation residual.
  scanInt8(query: Float32Array): { dots: Int32Array; queryScale: number; queryResidual: number } {
    let maxAbs = 0;
    for (let j = 0; j < this.dimension; j++) maxAbs = Math.max(maxAbs, Math.abs(query[j]!));
    // int16 query codes would allow more precision, but ±127 keeps each int16 product pair
    // far inside the int32 range of i32x4.dot_i16x8_s.
    const queryScale = maxAbs === 0 ? 1 : maxAbs / 127;
    const query16 = new Int16Array(this.memory.buffer, 0, this.stride);
    let residualSquared = 0;
    for (let j = 0; j < this.stride; j++) {
      const value = j < this.dimension ? query[j]! : 0;
      const code = Math.round(value / queryScale);
      query16[j] = code;
      residualSquared += (value - code * queryScale) ** 2;
    }
    this.dotI8(this.codesOffset, 0, this.count, this.stride, this.dotsOffset);
    const dots = new Int32Array(this.memory.buffer, this.dotsOffset, this.count);
    return { dots, queryScale, queryResidual: Math.sqrt(residualSquared) };
  }

  exactScore(row: number, query: Float32Array): number {
    const vectors = this.vectors;
    const base = row * this.dimension;
    let sum = 0;
    for (let j = 0; j < this.dimension; j++) sum += vectors[base + j]! * query[j]!;
    return sum;
  }

  memoryBytes(): number {
    return this.memory.buffer.byteLength + this.vectors.byteLength + 3 * this.scales.byteLength;
  }
}

// Keeps the k largest values seen, smallest first, so `floor` is the k-th largest.
class TopK {
  readonly scores: number[] = [];
  readonly rows: number[] = [];

  constructor(private readonly k: number) {}

  get floor(): number {
    return this.scores.length < this.k ? -Infinity : this.scores[0]!;
  }

  offer(score: number, row: number): void {
    if (this.scores.length === this.k) {
      if (score <= this.scores[0]!) return;
      this.scores.shift();
      this.rows.shift();
    }
    let at = 0;
    while (at < this.scores.length && this.scores[at]! < score) at++;
    this.scores.splice(at, 0, score);
    this.rows.splice(at, 0, row);
  }
}

/** Exact top-k cosine search over L2-normalised vectors, with separate namespaces. */
export class VectorIndex {
  private readonly namespaces = new Map<string, NamespaceStore>();

  constructor(readonly dimension: number) {
    if (!Number.isInteger(dimension) || dimension <= 0) {
      throw new RangeError(`Invalid vector dimension ${dimension}: expected a positive integer.`);
    }
  }

  /** Adds the vector under `id`, or replaces the vector already stored under it. */
  add(namespace: string, id: string, vector: Float32Array | readonly number[]): void {
    this.checkVector(vector, 'vector');
    let store = this.namespaces.get(namespace);
    if (!store) {
      store = new NamespaceStore(this.dimension);
      this.namespaces.set(namespace, store);
    }
    store.add(id, vector);
  }

  /** Removes `id`; returns false when the namespace does not contain it. */
  remove(namespace: string, id: string): boolean {
    const store = this.namespaces.get(namespace);
    if (!store) return false;
    const removed = store.remove(id);
    if (store.count === 0) this.namespaces.delete(namespace);
    return removed;
  }

  has(namespace: string, id: string): boolean {
    return this.namespaces.get(namespace)?.rowOf.has(id) ?? false;
  }

  /** Number of vectors in one namespace, or in all of them when `namespace` is omitted. */
  size(namespace?: string): number {
    if (namespace !== undefined) return this.namespaces.get(namespace)?.count ?? 0;
    let total = 0;
    for (const store of this.namespaces.values()) total += store.count;
    return total;
  }

  /** Estimated bytes held by the vectors, codes and WebAssembly memory; ids and maps excluded. */
  memoryBytes(): number {
    let total = 0;
    for (const store of this.namespaces.values()) total += store.memoryBytes();
    return total;
  }

  /**
   * Returns the `k` vectors with the highest dot product with `query`, best first, leaving out
   * any that scores below `minScore`. Scores are summed in double precision from the stored
   * float32 values, and equal the cosine similarity for unit vectors.
   */
  search(namespace: string, query: Float32Array | readonly number[], k = 1, minScore = -Infinity): VectorMatch[] {
    this.checkVector(query, 'query');
    if (!Number.isInteger(k) || k <= 0) {
      throw new RangeError(`Invalid k ${k}: expected a positive integer.`);
    }
    if (Number.isNaN(minScore)) throw new RangeError('Invalid minScore NaN: expected a number or -Infinity.');
    const store = this.namespaces.get(namespace);
    if (!store || store.count === 0) return [];
    const queryVector = query instanceof Float32Array ? query : Float32Array.from(query);

    const { dots, queryScale, queryResidual } = store.scanInt8(queryVector);
    let queryNorm = 0;
    for (let j = 0; j < this.dimension; j++) queryNorm += queryVector[j]! * queryVector[j]!;
    queryNorm = Math.sqrt(queryNorm);

    // q·x = q̂·x̂ + (q − q̂)·x̂ + q·(x − x̂), and Cauchy–Schwarz bounds the last two terms by
    // |q − q̂|·|x̂| + |q|·|x − x̂|. The slack covers float rounding in these sums.
    // NOTE: the 1e-4 slack is sized for unit vectors. Far larger norms would need a slack that
    // scales with |q|·|x|, or rescoring could miss a row by a rounding error.
    // A row whose upper bound is below minScore cannot qualify, so this pass drops it. With a
    // cache threshold, few rows are left for the second pass.
    const count = store.count;
    const { approx, bounds, keptRows, scales, codeNorms, residualNorms } = store;
    const lowerBounds = new TopK(k);
    let keptCount = 0;
    for (let row = 0; row < count; row++) {
      const estimate = dots[row]! * queryScale * scales[row]!;
      const bound = queryResidual * codeNorms[row]! + queryNorm * residualNorms[row]! + 1e-4;
      if (estimate + bound < minScore) continue;
      approx[keptCount] = estimate;
      bounds[keptCount] = bound;
      keptRows[keptCount] = row;
      keptCount++;
      lowerBounds.offer(estimate - bound, row);
    }

    // Any row in the true top k has an upper bound of at least the k-th largest lower bound.
    const cutoff = lowerBounds.floor;
    const best = new TopK(k);
    for (let at = 0; at < keptCount; at++) {
      const upper = approx[at]! + bounds[at]!;
      if (upper < cutoff || upper <= best.floor) continue;
      const row = keptRows[at]!;
      const score = store.exactScore(row, queryVector);
      if (score >= minScore) best.offer(score, row);
    }

    const matches: VectorMatch[] = [];
    for (let i = best.rows.length - 1; i >= 0; i--) {
      matches.push({ id: store.ids[best.rows[i]!]!, score: best.scores[i]! });
    }
    return matches;
  }

  private checkVector(vector: Float32Array | readonly number[], label: string): void {
    if (vector.length !== this.dimension) {
      throw new RangeError(
        `Invalid ${label} length ${vector.length}: this index stores ${this.dimension}-dimensional vectors.`,
      );
    }
    for (let j = 0; j < vector.length; j++) {
      if (!Number.isFinite(vector[j])) {
        throw new RangeError(`Invalid ${label}: element ${j} is ${vector[j]}, expected a finite number.`);
      }
    }
  }
}
