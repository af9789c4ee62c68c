/**
 * One process per run folder. The lock file (`run.lock`) holds the owner's pid, host and a heartbeat
 * it refreshes while running. A lock is stale, and is taken over, when its pid is dead on this host,
 * or when it comes from another host (a shared file system) and its heartbeat is older than
 * `staleAfterMs`.
 * @module
 */
import { hostname as osHostname } from 'node:os';
import { linkSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../pipelines/errors.js';
import { writeJsonAtomic } from './atomic.js';

export const LOCK_FILE = 'run.lock';

export interface LockInfo {
  pid: number;
  hostname: string;
  /** ISO time */
  startedAt: string;
  /** ISO time of the last heartbeat */
  heartbeatAt: string;
  command: string;
}

export interface LockOptions {
  /** how often the owner refreshes its heartbeat (default 15 s) */
  heartbeatMs?: number;
  /** a lock from another host with an older heartbeat is stale (default 2 min) */
  staleAfterMs?: number;
  command?: string;
  /** for tests: the identity and clock of this process */
  pid?: number;
  hostname?: string;
  now?: () => number;
  isProcessAlive?: (pid: number) => boolean;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return typeof parsed.pid === 'number' && typeof parsed.hostname === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

export type LockState = { state: 'free' } | { state: 'held' | 'stale'; info: LockInfo | null; reason: string };

/** Who holds the lock of `runDir`, and whether that holder is gone. */
export function inspectLock(runDir: string, options: LockOptions = {}): LockState {
  const path = join(runDir, LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'free' };
    throw error;
  }
  let info: LockInfo | null = null;
  try {
    info = JSON.parse(text) as LockInfo;
  } catch {
    info = null;
  }
  if (!info || typeof info.pid !== 'number' || typeof info.hostname !== 'string') {
    // a writer killed between create and write leaves an empty file; the write is one small syscall
    return { state: 'stale', info: null, reason: 'the lock file is empty or unreadable' };
  }
  const here = options.hostname ?? osHostname();
  const alive = options.isProcessAlive ?? isProcessAlive;
  const now = (options.now ?? Date.now)();
  if (info.hostname === here) {
    return alive(info.pid)
      ? { state: 'held', info, reason: `pid ${info.pid} is running on this host` }
      : { state: 'stale', info, reason: `pid ${info.pid} is no longer running on this host` };
  }
  const ageMs = now - Date.parse(info.heartbeatAt);
  const staleAfterMs = options.staleAfterMs ?? 120_000;
  return ageMs > staleAfterMs
    ? { state: 'stale', info, reason: `no heartbeat from host ${info.hostname} for ${Math.round(ageMs / 1000)} s` }
    : { state: 'held', info, reason: `host ${info.hostname} sent a heartbeat ${Math.round(ageMs / 1000)} s ago` };
}

export class RunLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    readonly path: string,
    readonly info: LockInfo,
    private readonly options: LockOptions,
    /** set when a stale lock was taken over: why it was stale */
    readonly tookOverFrom: { info: LockInfo | null; reason: string } | null,
  ) {}

  /**
   * Takes the lock of `runDir` or throws a UserError that says who holds it. Starts the heartbeat
   * (an unref'd timer, so it never keeps the process alive).
   */
  static acquire(runDir: string, options: LockOptions = {}): RunLock {
    const path = join(runDir, LOCK_FILE);
    const now = options.now ?? Date.now;
    const info: LockInfo = {
      pid: options.pid ?? process.pid,
      hostname: options.hostname ?? osHostname(),
      startedAt: new Date(now()).toISOString(),
      heartbeatAt: new Date(now()).toISOString(),
      command: options.command ?? process.argv.slice(1).join(' '),
    };
    let tookOverFrom: RunLock['tookOverFrom'] = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryCreate(path, info)) {
        const lock = new RunLock(path, info, options, tookOverFrom);
        lock.startHeartbeat();
        return lock;
      }
      const state = inspectLock(runDir, options);
      if (state.state === 'free') continue;
      if (state.state === 'held') throw heldError(runDir, state.info, state.reason);
      if (!moveAsideIfUnchanged(path, state.info)) continue;
      tookOverFrom = { info: state.info, reason: state.reason };
    }
    throw new UserError(`${runDir}: could not take the run lock (${LOCK_FILE}) after 3 attempts; another process keeps taking it`);
  }

  heartbeat(): void {
    if (this.released) return;
    const now = this.options.now ?? Date.now;
    this.info.heartbeatAt = new Date(now()).toISOString();
    const current = readLock(this.path);
    if (!current || current.pid !== this.info.pid || current.hostname !== this.info.hostname || current.startedAt !== this.info.startedAt) {
      // someone took the lock from us (they judged it stale): stop touching it
      this.stopHeartbeat();
      return;
    }
    writeJsonAtomic(this.path, this.info);
  }

  /** Removes the lock file if it is still ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.stopHeartbeat();
    const current = readLock(this.path);
    if (current && current.pid === this.info.pid && current.hostname === this.info.hostname && current.startedAt === this.info.startedAt) {
      rmSync(this.path, { force: true });
    }
  }

  private startHeartbeat(): void {
    const every = this.options.heartbeatMs ?? 15_000;
    this.timer = setInterval(() => {
      try {
        this.heartbeat();
      } catch {
        // a failed heartbeat only makes the lock look older to other hosts
      }
    }, every);
    this.timer.unref();
  }

  private stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function tryCreate(path: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(info, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Moves a stale lock out of the way, but only if it is still the lock we judged stale: two processes
 * taking over the same stale lock must not remove each other's fresh one.
 */
function moveAsideIfUnchanged(path: string, stale: LockInfo | null): boolean {
  const aside = `${path}.stale-${process.pid}-${Date.now()}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const moved = readLock(aside);
  const same = stale === null ? moved === null : moved !== null && moved.pid === stale.pid && moved.hostname === stale.hostname && moved.startedAt === stale.startedAt;
  if (!same) {
    // we moved someone's fresh lock: put it back unless a third process already created one
    try {
      linkSync(aside, path);
    } catch {
      // the third process holds the lock now; the moved one's owner will notice in its heartbeat
    }
  }
  rmSync(aside, { force: true });
  return same;
}

function heldError(runDir: string, info: LockInfo | null, reason: string): UserError {
  const who = info ? `pid ${info.pid} on host ${info.hostname} (started ${info.startedAt}, last heartbeat ${info.heartbeatAt})` : 'another process';
  return new UserError(
    `run folder ${runDir} is in use by ${who}: ${reason}. Wait for it to finish, run a different shard (--shard i/N) or choose another folder with --out; if that process is really gone, delete ${join(runDir, LOCK_FILE)}`,
  );
}
