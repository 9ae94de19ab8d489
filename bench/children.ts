import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** A benchmark server running in its own Node.js process. */
export interface ChildServer<Ready> {
  pid: number;
  /** The `ready` message the child sent over IPC. */
  ready: Ready;
  /** Sends SIGTERM, waits for the exit and sends SIGKILL after 15 s. Returns the exit code. */
  stop(): Promise<number | null>;
}

export interface ChildOptions {
  /** Script path relative to the repository root. */
  script: string;
  args?: string[];
  /** Node.js flags placed before `--import tsx`, such as --cpu-prof. */
  nodeFlags?: string[];
  /** Load the script through tsx (default true); false runs a .mjs file with plain Node.js. */
  tsx?: boolean;
  /** File that receives the child's standard output (the gateway's log); discarded when absent. */
  stdoutFile?: string;
  /** How long to wait for the ready message; default 30 s. */
  startTimeoutMs?: number;
}

/**
 * Start `node --import tsx SCRIPT` (or `node SCRIPT`) with an IPC channel and wait until the script sends a message
 * whose `type` is "ready". The child's standard error goes to this process's standard error.
 */
export async function startChild<Ready extends { type: 'ready' }>(options: ChildOptions): Promise<ChildServer<Ready>> {
  const stdoutFd = options.stdoutFile === undefined ? null : openSync(options.stdoutFile, 'a');
  let child: ChildProcess;
  try {
    const loader = options.tsx === false ? [] : ['--import', 'tsx'];
    child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...loader, options.script, ...(options.args ?? [])], {
      cwd: repoRoot,
      stdio: ['ignore', stdoutFd ?? 'ignore', 'inherit', 'ipc'],
    });
  } finally {
    if (stdoutFd !== null) closeSync(stdoutFd);
  }

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.script} sent no ready message within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message: Ready) => {
      if (message?.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`failed to start ${options.script}: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${options.script} exited before it was ready (exit code ${code}, signal ${signal})`));
    });
  });

  return {
    pid: child.pid!,
    ready,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Resident set size (VmRSS) and its peak (VmHWM) of a process, in KiB, from /proc/PID/status. */
export function readMemory(pid: number): { rssKiB: number; peakRssKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${name} line`);
    return Number(match[1]);
  };
  return { rssKiB: field('VmRSS'), peakRssKiB: field('VmHWM') };
}
