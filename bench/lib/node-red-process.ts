/**
 * The parent's handle on the Node-RED child process (bench/lib/node-red-child.ts): start it with a flow,
 * send it commands over IPC, collect what it logs, stop it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { endOnExit, stopChild } from '../../test/toolkit';

export interface NodeRedProcess {
  pid: number;
  versions: { node: string; nodeRed: string };
  cmd<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Lines the child wrote to stdout/stderr (Node-RED's log at warn level and above). */
  log: string[];
  stop(): Promise<void>;
}

export async function startNodeRedProcess(
  flows: object[],
  opts: { execArgv?: string[]; startTimeoutMs?: number } = {},
): Promise<NodeRedProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-bench-flows-'));
  const flowsFile = path.join(dir, 'flows.json');
  fs.writeFileSync(flowsFile, JSON.stringify(flows));
  const child: ChildProcess = endOnExit(
    fork(path.join(__dirname, 'node-red-child.js'), [flowsFile], {
      execArgv: ['--expose-gc', ...(opts.execArgv ?? [])],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  );
  const log: string[] = [];
  const collect = (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (!line.trim()) continue;
      if (log.length < 2000) log.push(line);
      if (log.length <= 20) console.error(`  [node-red] ${line}`);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `Node-RED child exited (code ${code}, signal ${signal})`;
    for (const w of waiting.values()) w.reject(new Error(exited));
    waiting.clear();
  });

  const ready = await new Promise<{ versions: NodeRedProcess['versions']; pid: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Node-RED child not ready after ${opts.startTimeoutMs ?? 60000} ms:\n${log.join('\n')}`)),
      opts.startTimeoutMs ?? 60000,
    );
    child.on('message', (m: { type?: string; id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve(m as unknown as { versions: NodeRedProcess['versions']; pid: number });
        return;
      }
      const w = m?.id !== undefined ? waiting.get(m.id) : undefined;
      if (!w) return;
      waiting.delete(m.id as number);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(m.error));
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${exited}:\n${log.join('\n')}`));
    });
  });

  return {
    pid: ready.pid,
    versions: ready.versions,
    log,
    cmd: <T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 600000) =>
      new Promise<T>((resolve, reject) => {
        if (exited) {
          reject(new Error(exited));
          return;
        }
        const id = nextId++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`Node-RED child: ${cmd} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, cmd, ...args });
      }),
    stop: async () => {
      if (!exited) {
        try {
          child.send({ id: 0, cmd: 'stop' });
        } catch {}
        await stopChild(child, undefined, 5000);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
