/**
 * @module
 * Perceived-attribute distributions from categorical probe records (label = predicted label or
 * "unknown"). Per condition and prompt the label counts; per condition the DALL-Eval MAD from uniform
 * and the OpenBias bias intensity 1 − H_norm (context-aware: mean over prompts), both computed by the
 * bias probe's own metric functions (probes/bias/metrics.ts, "unknown" dropped), with two-stage
 * bootstrap intervals (prompts,
 * then images within a prompt); and the change against the reference condition, bootstrapped on
 * images paired by seed within each prompt.
 */
import { biasMetrics, meanOverPrompts, type BiasMetrics } from '../probes/bias/metrics.js';
import type { RunIndex, Observation } from './observations.js';
import { referenceFor } from './conditions.js';
import { hierarchicalBootstrap } from './stats/bootstrap.js';
import type { Interval, StatSettings } from './summarize.js';

export const UNKNOWN_LABEL = 'unknown';

export interface PromptDistribution {
  conditionId: string;
  conditionLabel: string;
  promptId: string;
  promptText: string;
  /** label → count, over the label set (zeros included) */
  counts: Record<string, number>;
  unknown: number;
}

export interface ConditionBias {
  conditionId: string;
  conditionLabel: string;
  prompts: number;
  images: number;
  unknown: number;
  mad: Interval | null;
  intensity: Interval | null;
}

export interface BiasChange {
  conditionId: string;
  conditionLabel: string;
  referenceLabel: string;
  prompts: number;
  pairs: number;
  /** condition − reference */
  madChange: Interval | null;
  intensityChange: Interval | null;
}

export interface BiasMetricResult {
  metric: string;
  description: string;
  /** who predicted the labels, as the records name it */
  classifiers: string[];
  labelSet: string[];
  distributions: PromptDistribution[];
  conditions: ConditionBias[];
  changes: BiasChange[];
}

const PREDICTED_BY = /as predicted by (.+)$/i;

function classifiersIn(detail: unknown, into: Set<string>, depth = 0): void {
  if (depth > 4 || detail === null || detail === undefined) return;
  if (typeof detail === 'string') {
    const match = PREDICTED_BY.exec(detail.trim());
    if (match) into.add(match[1].replace(/[.\s]+$/, ''));
    return;
  }
  if (typeof detail !== 'object') return;
  if (Array.isArray(detail)) {
    for (const item of detail) classifiersIn(item, into, depth + 1);
    return;
  }
  const object = detail as Record<string, unknown>;
  for (const key of ['predictedBy', 'predicted_by', 'classifier', 'model']) {
    if (typeof object[key] === 'string' && object[key] !== '') into.add(object[key] as string);
  }
  for (const key of Object.keys(object)) if (!['predictedBy', 'predicted_by', 'classifier', 'model'].includes(key)) classifiersIn(object[key], into, depth + 1);
}

function probabilityLabels(detail: unknown): string[] {
  if (detail === null || typeof detail !== 'object') return [];
  const object = detail as Record<string, unknown>;
  const labels: string[] = [];
  for (const key of ['probabilities', 'scores', 'probs']) {
    const value = object[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) labels.push(...Object.keys(value));
  }
  if (Array.isArray(object.labels)) labels.push(...object.labels.filter((label): label is string => typeof label === 'string'));
  return labels;
}

function labelOf(observation: Observation): string {
  const label = observation.score.label;
  return label === undefined || label === '' ? UNKNOWN_LABEL : label;
}

function countsOver(labels: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

type PerPromptMeasure = (metrics: BiasMetrics) => number | null;

/** mean over prompts of a per-prompt measure (prompts with no usable label skipped); NaN when none has one */
function meanOverGroups(groups: readonly (readonly string[])[], labelSet: readonly string[], measure: PerPromptMeasure): number {
  const values = groups.map((group) => {
    const metrics = biasMetrics(countsOver(group), { groups: labelSet, unknownLabels: [UNKNOWN_LABEL] });
    return metrics === null ? null : measure(metrics);
  });
  return meanOverPrompts(values) ?? Number.NaN;
}

const MAD: PerPromptMeasure = (metrics) => metrics.mad;
const INTENSITY: PerPromptMeasure = (metrics) => metrics.biasIntensity;

function toInterval(result: { estimate: number; lower: number; upper: number } | null): Interval | null {
  if (!result || !Number.isFinite(result.estimate)) return null;
  return { estimate: result.estimate, lower: result.lower, upper: result.upper };
}

export function summarizeBias(index: RunIndex, settings: StatSettings): BiasMetricResult[] {
  const results: BiasMetricResult[] = [];
  const references = referenceFor(index.conditions, settings.reference);
  for (const metric of index.metrics.filter((m) => m.kind === 'categorical')) {
    const observations = index.observations.get(metric.name) ?? [];
    if (observations.length === 0) continue;
    const classifiers = new Set<string>();
    const labels = new Set<string>();
    for (const observation of observations) {
      classifiersIn(observation.score.detail, classifiers);
      for (const label of probabilityLabels(observation.score.detail)) labels.add(label);
      labels.add(labelOf(observation));
    }
    labels.delete(UNKNOWN_LABEL);
    const labelSet = [...labels].sort();
    const bootstrap = (label: string) => ({ resamples: settings.resamples, seed: settings.seed, confidence: settings.confidence, label });

    // condition → prompt id → observations (sorted by seed through the index order)
    const byCondition = new Map<string, Map<string, Observation[]>>();
    for (const observation of observations) {
      const prompts = byCondition.get(observation.unit.condition.id) ?? new Map<string, Observation[]>();
      const list = prompts.get(observation.unit.prompt.id) ?? [];
      list.push(observation);
      prompts.set(observation.unit.prompt.id, list);
      byCondition.set(observation.unit.condition.id, prompts);
    }

    const distributions: PromptDistribution[] = [];
    const conditions: ConditionBias[] = [];
    const changes: BiasChange[] = [];
    for (const condition of index.conditions) {
      const prompts = byCondition.get(condition.id);
      if (!prompts) continue;
      const groups: string[][] = [];
      let images = 0;
      let unknown = 0;
      for (const promptId of [...prompts.keys()].sort()) {
        const list = prompts.get(promptId)!;
        const promptLabels = list.map(labelOf);
        const counts: Record<string, number> = {};
        for (const label of labelSet) counts[label] = promptLabels.filter((l) => l === label).length;
        const promptUnknown = promptLabels.filter((label) => label === UNKNOWN_LABEL).length;
        distributions.push({
          conditionId: condition.id,
          conditionLabel: condition.label,
          promptId,
          promptText: list[0].unit.prompt.text,
          counts,
          unknown: promptUnknown,
        });
        groups.push(promptLabels);
        images += list.length;
        unknown += promptUnknown;
      }
      const measurable = labelSet.length >= 2;
      const statistic = (measure: PerPromptMeasure) => (resampled: readonly (readonly string[])[]) => meanOverGroups(resampled, labelSet, measure);
      conditions.push({
        conditionId: condition.id,
        conditionLabel: condition.label,
        prompts: groups.length,
        images,
        unknown,
        mad: measurable ? toInterval(hierarchicalBootstrap(groups, statistic(MAD), bootstrap(`bias-mad|${metric.name}|${condition.id}`))) : null,
        intensity: measurable ? toInterval(hierarchicalBootstrap(groups, statistic(INTENSITY), bootstrap(`bias-intensity|${metric.name}|${condition.id}`))) : null,
      });

      const reference = references.get(condition.id);
      const referencePrompts = reference ? byCondition.get(reference.id) : undefined;
      if (!reference || !referencePrompts || !measurable) continue;
      // per prompt, images paired by seed: [reference label, condition label]
      const pairedGroups: [string, string][][] = [];
      let pairs = 0;
      for (const promptId of [...prompts.keys()].sort()) {
        const referenceBySeed = new Map((referencePrompts.get(promptId) ?? []).map((o) => [o.unit.seed, labelOf(o)]));
        const group: [string, string][] = [];
        for (const observation of prompts.get(promptId)!) {
          const referenceLabel = referenceBySeed.get(observation.unit.seed);
          if (referenceLabel !== undefined) group.push([referenceLabel, labelOf(observation)]);
        }
        if (group.length > 0) {
          pairedGroups.push(group);
          pairs += group.length;
        }
      }
      const change = (measure: PerPromptMeasure) => (resampled: readonly (readonly [string, string][])[]) =>
        meanOverGroups(resampled.map((group) => group.map((pair) => pair[1])), labelSet, measure) -
        meanOverGroups(resampled.map((group) => group.map((pair) => pair[0])), labelSet, measure);
      changes.push({
        conditionId: condition.id,
        conditionLabel: condition.label,
        referenceLabel: reference.label,
        prompts: pairedGroups.length,
        pairs,
        madChange: toInterval(hierarchicalBootstrap(pairedGroups, change(MAD), bootstrap(`bias-mad-change|${metric.name}|${condition.id}`))),
        intensityChange: toInterval(
          hierarchicalBootstrap(pairedGroups, change(INTENSITY), bootstrap(`bias-intensity-change|${metric.name}|${condition.id}`)),
        ),
      });
    }
    results.push({ metric: metric.name, description: metric.description, classifiers: [...classifiers].sort(), labelSet, distributions, conditions, changes });
  }
  return results;
}
