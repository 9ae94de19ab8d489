import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAIStub, completion, sendJson } from './stubs/openai';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'gateway-core', 'src', 'cli.ts');
const running: ChildProcessWithoutNullStreams[] = [];
const folders: string[] = [];

afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

interface Started {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stdout: () => string;
  exited: Promise<number | null>;
}

/** Start `tsx gateway-core/src/cli.ts` as npm start does, and wait for its banner. */
async function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AIRLOCK_LOG_LEVEL: 'info', ...env },
  });
  running.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /Airlock gateway listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearInterval(timer);
        resolve(match[1]!);
      }
    }, 25);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`the gateway exited with ${code}: ${out}`));
    });
  });
  return { child, url, stdout: () => out, exited };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
  folders.push(dir);
  return dir;
}

describe('npm start', () => {
  it('prints the URL and an admin key on first start only', async () => {
    const dataDir = tempDir();
    const first = await startCli(['--port', '0', '--data-dir', dataDir]);
    const key = /Admin key \(shown once, store it now\): (sk-airlock-\S+)/.exec(first.stdout())?.[1];
    expect(key).toBeDefined();
    expect(existsSync(join(dataDir, 'airlock.db'))).toBe(true);
    const health = await fetch(`${first.url}/healthz`);
    expect(health.status).toBe(200);
    const models = await fetch(`${first.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
    // The generated key is a secret: the banner shows it, the JSON log lines never do.
    const logLines = first.stdout().split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(key!);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await startCli(['--port', '0'], { AIRLOCK_DATA_DIR: dataDir });
    expect(second.stdout()).not.toContain('Admin key');
    const again = await fetch(`${second.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(again.status).toBe(200);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('takes the config and port from the environment', async () => {
    const dataDir = tempDir();
    const configPath = join(dataDir, 'gateway.yaml');
    writeFileSync(
      configPath,
      'general_settings:\n  master_key: sk-master-from-file\nmodel_list:\n  - model_name: local\n    litellm_params:\n      model: ollama/llama3.1\n',
    );
    const started = await startCli([], { AIRLOCK_CONFIG: configPath, AIRLOCK_PORT: '0', AIRLOCK_DATA_DIR: dataDir });
    const models = (await (await fetch(`${started.url}/v1/models`, { headers: { authorization: 'Bearer sk-master-from-file' } })).json()) as {
      data: Array<{ id: string }>;
    };
    expect(models.data.map((m) => m.id)).toEqual(['local', 'auto']);
    expect(started.stdout()).not.toContain('Admin key (shown once');
  });

  it('stops with an error naming the key for an invalid config', async () => {
    const dataDir = tempDir();
    const configPath = join(dataDir, 'bad.yaml');
    writeFileSync(configPath, 'model_list:\n  - model_name: x\n    litellm_params:\n      model: bedrock/claude\n');
    const child = spawn(process.execPath, ['--import', 'tsx', cli, '--config', configPath, '--data-dir', dataDir, '--port', '0'], { cwd: root });
    running.push(child);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toContain("model_list[0].litellm_params.model: provider 'bedrock'");
  });

  it('stops the gateway when npm start gets SIGTERM', async () => {
    const dataDir = tempDir();
    const child = spawn('npm', ['start', '--silent', '--', '--port', '0', '--data-dir', dataDir], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    running.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    for (let i = 0; i < 200 && !/listening on (http:\/\/\S+)/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // A supervisor signals npm's own process, not the process group.
    child.kill('SIGTERM');
    await exited;
    let stillUp = true;
    for (let i = 0; i < 40 && stillUp; i++) {
      stillUp = await fetch(`${url}/healthz`).then(
        () => true,
        () => false,
      );
      if (stillUp) await new Promise((r) => setTimeout(r, 50));
    }
    expect(stillUp).toBe(false);
  });

  it('drains an in-flight request on SIGTERM', async () => {
    const stub = await new OpenAIStub().start();
    try {
      const dataDir = tempDir();
      const configPath = join(dataDir, 'gateway.yaml');
      writeFileSync(
        configPath,
        `general_settings:\n  master_key: sk-master\nmodel_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-x\n      api_base: ${stub.url}\n`,
      );
      const started = await startCli(['--config', configPath, '--port', '0', '--data-dir', dataDir]);
      stub.next(async (req, res) => {
        await new Promise((r) => setTimeout(r, 500));
        sendJson(res, 200, completion('gpt-4o', 'slow answer'));
      });
      const pending = fetch(`${started.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-master', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await new Promise((r) => setTimeout(r, 150));
      started.child.kill('SIGTERM');
      const response = await pending;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('slow answer');
      expect(await started.exited).toBe(0);
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(dataDir, 'airlock.db'), { readonly: true });
      const row = db.prepare('SELECT http_status FROM audit_log WHERE inbound_api = ?').get('openai-chat') as { http_status: number };
      db.close();
      expect(row.http_status).toBe(200);
    } finally {
      await stub.stop();
    }
  });
});
