/**
 * `refinery status`: done / failed / missing per run folder or shard, and in total, with whether a
 * process is working on it now.
 * @module
 */
import { UserError } from '../../pipelines/errors.js';
import { RunStore, type StoreCounts } from '../store/store.js';
import { readIdentity, type RunIdentity } from './identity.js';
import { inspectLock } from './lock.js';
import { expandRunFolders } from './merge.js';
import { parseShard } from './planner.js';
import { displayPath } from './summary.js';

export interface FolderStatus {
  dir: string;
  identity: RunIdentity | null;
  counts: StoreCounts;
  /** units the folder is responsible for (its shard's size), which may exceed the units recorded so far */
  expected: number;
  state: 'running' | 'complete' | 'incomplete';
  holder: string | null;
}

export interface RunStatus {
  folders: FolderStatus[];
  /** shards of the split that no folder holds */
  notStarted: string[];
  total: { units: number; ok: number; failed: number; missing: number };
}

export function folderStatus(dir: string): FolderStatus {
  const store = RunStore.open(`${dir}/refinery.sqlite`, { readonly: true });
  try {
    const identity = readIdentity(store);
    const counts = store.counts();
    const expected = Math.max(identity?.folderUnits ?? counts.units, counts.units);
    const missing = expected - counts.ok - counts.failed;
    const lock = inspectLock(dir);
    const running = lock.state === 'held';
    return {
      dir,
      identity,
      counts: { ...counts, units: expected, missing },
      expected,
      state: running ? 'running' : missing === 0 ? 'complete' : 'incomplete',
      holder: lock.state === 'held' && lock.info ? `pid ${lock.info.pid} on ${lock.info.hostname}` : null,
    };
  } finally {
    store.close();
  }
}

export function runStatus(dirs: readonly string[]): RunStatus {
  const folders = expandRunFolders(dirs).map(folderStatus);
  const total = { units: 0, ok: 0, failed: 0, missing: 0 };
  for (const folder of folders) {
    total.units += folder.counts.units;
    total.ok += folder.counts.ok;
    total.failed += folder.counts.failed;
    total.missing += folder.counts.missing;
  }
  const notStarted: string[] = [];
  const sharded = folders.filter((folder) => folder.identity?.shard);
  if (sharded.length > 0) {
    const experiments = new Set(sharded.map((folder) => folder.identity!.unitsSha256));
    if (experiments.size > 1) throw new UserError(`status: the folders hold shards of ${experiments.size} different experiments; ask about one experiment at a time`);
    const count = parseShard(sharded[0].identity!.shard!).count;
    const present = new Set(sharded.map((folder) => folder.identity!.shard));
    for (let i = 0; i < count; i++) if (!present.has(`${i}/${count}`)) notStarted.push(`${i}/${count}`);
    const experimentTotal = sharded[0].identity!.totalUnits;
    // units of shards that have not started yet
    if (notStarted.length > 0 && experimentTotal > total.units) {
      total.missing += experimentTotal - total.units;
      total.units = experimentTotal;
    }
  }
  return { folders, notStarted, total };
}

export function formatStatus(status: RunStatus): string[] {
  const rows = status.folders.map((folder) => [
    displayPath(folder.dir),
    folder.identity?.shard ?? '-',
    String(folder.counts.units),
    String(folder.counts.ok),
    String(folder.counts.failed),
    String(folder.counts.missing),
    folder.state === 'running' ? `running (${folder.holder})` : folder.state,
  ]);
  for (const shard of status.notStarted) rows.push(['(none)', shard, '?', '0', '0', '?', 'not started']);
  if (status.folders.length + status.notStarted.length > 1) {
    const { units, ok, failed, missing } = status.total;
    rows.push(['total', '', String(units), String(ok), String(failed), String(missing), missing === 0 && status.notStarted.length === 0 ? 'complete' : '']);
  }
  const header = ['folder', 'shard', 'units', 'done', 'failed', 'missing', 'state'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const format = (row: string[]) => row.map((cell, i) => (i >= 2 && i <= 5 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [format(header), ...rows.map(format)];
}
