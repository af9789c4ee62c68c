/**
 * @module
 * Number formatting shared by the HTML and Markdown writers (deterministic, locale-free).
 */
import type { Interval } from './summarize.js';

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(2);
  return Number(value.toPrecision(3)).toString();
}

export function formatInterval(interval: Interval | null | undefined): string {
  if (!interval) return '—';
  return `${formatNumber(interval.estimate)} [${formatNumber(interval.lower)}, ${formatNumber(interval.upper)}]`;
}

export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || Number.isNaN(p)) return '—';
  if (p < 1e-4) return '<0.0001';
  return Number(p.toPrecision(2)).toString();
}

export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return `${Number((value * 100).toPrecision(3))}%`;
}

export function formatDirection(higherIsBetter: boolean | null): string {
  return higherIsBetter === null ? 'no direction' : higherIsBetter ? 'higher is better' : 'lower is better';
}
