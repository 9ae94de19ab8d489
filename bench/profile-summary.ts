/**
 * Summarise a V8 .cpuprofile (written by `node --cpu-prof`) in three views. The first is self time
 * per function. The second is self time per area: a gateway source file, an npm package, a Node.js
 * built-in module or V8's garbage collector. The third is busy time per owner, the innermost frame
 * on the stack that is gateway code, an npm package or Node.js's fetch, so that the Node.js
 * built-ins a library calls (http, net, streams, events) are charged to that library.
 *
 * Usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [TOP]. From the command line the whole
 * profile counts, start-up included; bench/run.ts passes the measured window instead.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  /** Zero-based line in the code V8 ran, which for .ts files is tsx's output, not the source. */
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The JSON layout of the Chrome DevTools Protocol's Profiler.Profile, as `--cpu-prof` writes it. */
interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on CLOCK_MONOTONIC. */
  startTime: number;
  endTime: number;
  /** Node id on top of the stack at each sample. */
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

export interface SelfTimeEntry {
  name: string;
  /** File and line, relative to the repository or package, without a line for TypeScript files. Empty for V8's own entries. */
  location: string;
  area: string;
  selfMs: number;
  /** Share of the busy time (everything but idle), in percent. */
  busyPercent: number;
}

export interface TimeShare {
  name: string;
  ms: number;
  /** Share of the busy time, in percent. */
  busyPercent: number;
}

export interface ProfileSummary {
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  functions: SelfTimeEntry[];
  areas: TimeShare[];
  /** Busy time by owner: the innermost gateway-core function, npm package or fetch frame on the stack. */
  owners: TimeShare[];
}

export interface SummaryOptions {
  /** How many functions and owners to list; default 25. */
  top?: number;
  /** Count only samples taken inside this span of CLOCK_MONOTONIC microseconds, such as a measured run. */
  windowUs?: { start: number; end: number };
}

const fetchOwner = 'fetch in Node.js (undici, web streams)';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Classify a script URL by area: an npm package, a Node.js built-in, a repository file or a V8 entry. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native code)';
  if (url.startsWith('node:')) return url;
  const packageMatch = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (packageMatch) return `npm:${packageMatch[1]}`;
  if (url.startsWith('file://')) return relative(repoRoot, fileURLToPath(url));
  return url;
}

function locationOf(frame: CallFrame): string {
  if (frame.url === '') return '';
  let path = frame.url;
  if (path.startsWith('file://')) {
    const filePath = fileURLToPath(path);
    const inPackage = filePath.lastIndexOf('/node_modules/');
    path = inPackage >= 0 ? filePath.slice(inPackage + '/node_modules/'.length) : relative(repoRoot, filePath);
  }
  // Lines of TypeScript files are lines of tsx's output, which would point at the wrong source line.
  if (/\.[mc]?ts$/.test(path)) return path;
  return `${path}:${frame.lineNumber + 1}`;
}

/**
 * Summarise the samples of a profile. Each sample is charged the interval until the next sample,
 * which is how Chrome DevTools attributes time.
 */
export function summarizeProfile(profile: CpuProfile, options: SummaryOptions = {}): ProfileSummary {
  const top = options.top ?? 25;
  const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

  const selfByNode = new Map<number, number>();
  let timestamp = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    timestamp += profile.timeDeltas[i] ?? 0;
    if (options.windowUs && (timestamp < options.windowUs.start || timestamp > options.windowUs.end)) continue;
    const nodeId = profile.samples[i]!;
    selfByNode.set(nodeId, (selfByNode.get(nodeId) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }

  const byFunction = new Map<string, { frame: CallFrame; selfUs: number }>();
  const byArea = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let idleUs = 0;
  let sampledUs = 0;
  for (const [nodeId, selfUs] of selfByNode) {
    const frame = nodesById.get(nodeId)!.callFrame;
    sampledUs += selfUs;
    if (frame.functionName === '(idle)') {
      idleUs += selfUs;
      continue;
    }
    const key = `${frame.functionName}\n${frame.url}\n${frame.lineNumber}\n${frame.columnNumber}`;
    const entry = byFunction.get(key) ?? { frame, selfUs: 0 };
    entry.selfUs += selfUs;
    byFunction.set(key, entry);
    const area = areaOf(frame.url, frame.functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + selfUs);
    const owner = ownerOf(nodeId, nodesById, parents);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + selfUs);
  }

  const busyUs = sampledUs - idleUs;
  const percent = (us: number): number => (busyUs === 0 ? 0 : Math.round((us / busyUs) * 1000) / 10);
  const ms = (us: number): number => Math.round(us / 100) / 10;
  const shares = (totals: Map<string, number>, limit: number): TimeShare[] =>
    [...totals.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, ms: ms(us), busyPercent: percent(us) }));
  const functions = [...byFunction.values()]
    .sort((a, b) => b.selfUs - a.selfUs)
    .slice(0, top)
    .map(({ frame, selfUs }) => ({
      name: frame.functionName || '(anonymous)',
      location: locationOf(frame),
      area: areaOf(frame.url, frame.functionName),
      selfMs: ms(selfUs),
      busyPercent: percent(selfUs),
    }));
  return {
    sampledMs: ms(sampledUs),
    idleMs: ms(idleUs),
    busyMs: ms(busyUs),
    functions,
    areas: shares(byArea, Number.POSITIVE_INFINITY),
    owners: shares(byOwner, top),
  };
}

/** Find the innermost frame on the stack that is gateway code, an npm package or fetch, or else name the built-in module that ran. */
function ownerOf(nodeId: number, nodesById: Map<number, ProfileNode>, parents: Map<number, number>): string {
  const frame = nodesById.get(nodeId)!.callFrame;
  const selfArea = areaOf(frame.url, frame.functionName);
  if (frame.url === '' && frame.functionName.startsWith('(')) return selfArea;
  for (let id: number | undefined = nodeId; id !== undefined; id = parents.get(id)) {
    const candidate = nodesById.get(id)!.callFrame;
    const area = areaOf(candidate.url, candidate.functionName);
    if (area.startsWith('gateway-core/')) return `${candidate.functionName || '(anonymous)'}  (${area})`;
    if (area.startsWith('npm:')) return area;
    if (area.startsWith('node:internal/deps/undici/') || area.startsWith('node:internal/webstreams/')) return fetchOwner;
  }
  return `Node.js built-ins only, in ${selfArea}`;
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

/** Format a summary as plain-text tables: top functions by self time, areas, then owners. */
export function formatSummary(summary: ProfileSummary, topAreas = 15): string {
  const share = (ms: number, busyPercent: number): string => `${ms.toFixed(1).padStart(8)}  ${busyPercent.toFixed(1).padStart(6)}`;
  const lines = [
    `sampled ${summary.sampledMs} ms: busy ${summary.busyMs} ms, idle ${summary.idleMs} ms (percentages are of busy time)`,
    '',
    ' self ms   busy %  function (location)',
  ];
  for (const entry of summary.functions) lines.push(`${share(entry.selfMs, entry.busyPercent)}  ${entry.name}  (${entry.location || entry.area})`);
  lines.push('', ' self ms   busy %  area');
  for (const entry of summary.areas.slice(0, topAreas)) lines.push(`${share(entry.ms, entry.busyPercent)}  ${entry.name}`);
  lines.push('', '      ms   busy %  owner: innermost gateway-core function, npm package or fetch on the stack');
  for (const entry of summary.owners) lines.push(`${share(entry.ms, entry.busyPercent)}  ${entry.name}`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, top] = process.argv.slice(2);
  if (path === undefined) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(summarizeProfile(readProfile(path), { top: top === undefined ? 25 : Number(top) }))}\n`);
}
