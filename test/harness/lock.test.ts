import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectLock, LOCK_FILE, RunLock, type LockInfo } from '../../harness/run/lock.js';

const root = resolve(import.meta.dirname, '../..');

/** Starts a real process that takes the lock of `dir` and then sleeps; resolves once it holds it. */
async function lockInChild(dir: string): Promise<ChildProcess> {
  const script = `
    const { RunLock } = await import(${JSON.stringify(join(root, 'harness/run/lock.ts'))});
    RunLock.acquire(${JSON.stringify(dir)}, { command: 'child' });
    console.log('locked');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((done, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && done());
    child.on('exit', (code) => fail(new Error(`lock child exited early with ${code}`)));
  });
  return child;
}

function lockInfo(overrides: Partial<LockInfo>): LockInfo {
  const now = new Date().toISOString();
  return { pid: 1, hostname: 'elsewhere', startedAt: now, heartbeatAt: now, command: 'x', ...overrides };
}

describe('RunLock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second process while the first is alive, and takes over after kill -9', async () => {
    const child = await lockInChild(dir);
    try {
      expect(() => RunLock.acquire(dir)).toThrow(
        new RegExp(`run folder .* is in use by pid ${child.pid} on host ${hostname()}.*delete .*${LOCK_FILE}`),
      );
      expect(inspectLock(dir)).toMatchObject({ state: 'held', info: { pid: child.pid } });
    } finally {
      child.kill('SIGKILL');
      await new Promise((done) => child.once('exit', done));
    }
    expect(inspectLock(dir)).toMatchObject({ state: 'stale', reason: `pid ${child.pid} is no longer running on this host` });
    const lock = RunLock.acquire(dir);
    expect(lock.tookOverFrom?.info?.pid).toBe(child.pid);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a second lock in the same process (the pid is alive)', () => {
    const lock = RunLock.acquire(dir);
    expect(() => RunLock.acquire(dir)).toThrow(/is in use by pid/);
    lock.release();
    RunLock.acquire(dir).release();
  });

  it('trusts a recent heartbeat from another host and takes over an old one', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(lockInfo({ heartbeatAt: new Date(now - 30_000).toISOString() })));
    const options = { now: () => now, staleAfterMs: 60_000 };
    expect(() => RunLock.acquire(dir, options)).toThrow(/host elsewhere sent a heartbeat 30 s ago/);
    now += 60_000;
    const lock = RunLock.acquire(dir, options);
    expect(lock.tookOverFrom?.reason).toBe('no heartbeat from host elsewhere for 90 s');
    lock.release();
  });

  it('treats an empty lock file (killed between create and write) as stale', () => {
    writeFileSync(join(dir, LOCK_FILE), '');
    const lock = RunLock.acquire(dir);
    expect(lock.tookOverFrom?.reason).toMatch(/empty or unreadable/);
    lock.release();
  });

  it('refreshes its heartbeat and never removes a lock that is no longer its own', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const lock = RunLock.acquire(dir, { now: () => now, heartbeatMs: 3_600_000 });
    now += 5_000;
    lock.heartbeat();
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).heartbeatAt).toBe(new Date(now).toISOString());
    const thief = lockInfo({ hostname: 'other-host' });
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(thief));
    lock.heartbeat();
    lock.release();
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toEqual(thief);
  });
});
