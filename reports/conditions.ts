/**
 * @module
 * Condition bookkeeping for reports: a stable order, which condition is the reference for which, and
 * the "other axes" (everything but mode, handoff and strength) that decide which points form one curve.
 */
import type { ReportCondition } from './load.js';

const MODE_FIELDS = new Set(['id', 'label', 'mode', 'handoff', 'strength']);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Canonical JSON of the condition's fields other than mode, handoff and strength. */
export function otherAxesKey(condition: ReportCondition): string {
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(condition)) if (!MODE_FIELDS.has(key)) rest[key] = value;
  return canonical(rest);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** base-only first, then ensemble by handoff descending, then SDEdit by strength ascending; ties by id. */
export function compareConditions(a: ReportCondition, b: ReportCondition): number {
  const rank = { 'base-only': 0, ensemble: 1, sdedit: 2 } as const;
  return (
    compareText(otherAxesKey(a), otherAxesKey(b)) ||
    rank[a.mode] - rank[b.mode] ||
    (b.handoff ?? 0) - (a.handoff ?? 0) ||
    (a.strength ?? 0) - (b.strength ?? 0) ||
    compareText(a.id, b.id)
  );
}

/** Distinct conditions of the units, in report order. */
export function orderedConditions(conditions: Iterable<ReportCondition>): ReportCondition[] {
  const byId = new Map<string, ReportCondition>();
  for (const condition of conditions) if (!byId.has(condition.id)) byId.set(condition.id, condition);
  return [...byId.values()].sort(compareConditions);
}

/** True when `selector` names the condition: its id, its label, its mode, `handoff=h` or `strength=s`. */
export function matchesSelector(condition: ReportCondition, selector: string): boolean {
  const wanted = selector.trim();
  return (
    condition.id === wanted ||
    condition.label === wanted ||
    condition.mode === wanted ||
    (condition.handoff !== undefined && `handoff=${condition.handoff}` === wanted) ||
    (condition.strength !== undefined && `strength=${condition.strength}` === wanted)
  );
}

/**
 * The reference for each non-reference condition: the condition matching the selector that shares
 * its other axes (steps, guidance, scheduler, size, …), or the only matching one when there is one.
 */
export function referenceFor(conditions: readonly ReportCondition[], selector: string): Map<string, ReportCondition> {
  const candidates = conditions.filter((condition) => matchesSelector(condition, selector));
  const result = new Map<string, ReportCondition>();
  for (const condition of conditions) {
    if (candidates.some((candidate) => candidate.id === condition.id)) continue;
    const sameAxes = candidates.filter((candidate) => otherAxesKey(candidate) === otherAxesKey(condition));
    const chosen = sameAxes.length === 1 ? sameAxes[0] : candidates.length === 1 ? candidates[0] : undefined;
    if (chosen) result.set(condition.id, chosen);
  }
  return result;
}

function formatAxisValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null) return 'none';
  return canonical(value);
}

/**
 * Series names for curves: the other axes that vary between conditions, e.g. "steps=20, scheduler=euler";
 * "all conditions" when nothing else varies.
 */
export function seriesLabels(conditions: readonly ReportCondition[]): Map<string, string> {
  const varying = new Set<string>();
  const keys = new Set<string>();
  for (const condition of conditions) for (const key of Object.keys(condition)) if (!MODE_FIELDS.has(key)) keys.add(key);
  for (const key of [...keys].sort()) {
    const values = new Set(conditions.map((condition) => canonical(condition[key])));
    if (values.size > 1) varying.add(key);
  }
  const labels = new Map<string, string>();
  for (const condition of conditions) {
    const parts = [...varying].map((key) => `${key}=${formatAxisValue(condition[key])}`);
    labels.set(condition.id, parts.length > 0 ? parts.join(', ') : 'all conditions');
  }
  return labels;
}
