// Writes a small, fully synthetic run folder through the store's API: four conditions, five prompts
// (one with a <script> prompt), six seeds, tiny PNGs, and scores of every kind (continuous, binary
// with colour boxes, a lower-is-better lossiness metric, a categorical perceived-attribute probe).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../pipelines/image/png.js';
import { RunStore, type UnitRow } from '../../harness/store/store.js';
import type { MetricMeta, ScoreRecord } from '../../probes/types.js';
import type { PromptInstance } from '../../datasets/types.js';
import { Pcg32 } from '../../reports/stats/random.js';

export const SCRIPT_PROMPT = 'a sign that says <script>alert(1)</script>';

const baseCondition = { steps: 8, guidance: 5, refinerGuidance: 5, guidanceRescale: 0, scheduler: 'euler', schedulerConfig: {}, width: 32, height: 32, negativePrompt: null, aestheticScore: 6, negativeAestheticScore: 2.5 };

export const CONDITIONS = [
  { id: 'mode=base-only,steps=8', label: 'base-only', mode: 'base-only', ...baseCondition },
  { id: 'mode=ensemble,handoff=0.8,steps=8', label: 'handoff=0.8', mode: 'ensemble', handoff: 0.8, ...baseCondition },
  { id: 'mode=ensemble,handoff=0.6,steps=8', label: 'handoff=0.6', mode: 'ensemble', handoff: 0.6, ...baseCondition },
  { id: 'mode=sdedit,strength=0.3,steps=8', label: 'strength=0.3', mode: 'sdedit', strength: 0.3, ...baseCondition },
] as const;

export const PROMPTS: PromptInstance[] = [
  { id: 'relations/0000', text: 'a red cube left of a blue sphere', suite: 'relations', category: 'spatial', expectations: { tag: 'position' } },
  { id: 'relations/0001', text: 'a green ball above a yellow box', suite: 'relations', category: 'spatial', expectations: { tag: 'position' } },
  { id: 'text/0000', text: SCRIPT_PROMPT, suite: 'text-rendering', category: 'text', subcategory: 'signs', expectations: { tag: 'text', text: ['alert(1)'] } },
  { id: 'occupations/nurse', text: 'a photo of the face of a nurse', suite: 'occupations', category: 'occupation', attributes: { occupation: 'nurse' } },
  { id: 'occupations/engineer', text: 'a photo of the face of an engineer', suite: 'occupations', category: 'occupation', attributes: { occupation: 'engineer' } },
];

export const SEEDS = [0, 1, 2, 3, 4, 5];

export const METRICS: MetricMeta[] = [
  { name: 'clip_score', description: 'CLIP similarity of image and prompt (tiny CLIP)', higherIsBetter: true, range: [0, 100], kind: 'continuous', role: 'primary' },
  {
    name: 'relation_correct',
    description: 'spatial relation holds between the colour-segmented objects',
    higherIsBetter: true,
    range: [0, 1],
    kind: 'binary',
    role: 'primary',
    failureMeans: 'the objects are in the wrong relation',
  },
  { name: 'vae_roundtrip_error', description: 'mean absolute error of a VAE encode + decode', higherIsBetter: false, range: [0, 1], kind: 'continuous', role: 'diagnostic' },
  {
    name: 'ocr_garbled',
    description: 'flag, 1 = OCR read none of the quoted text',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'binary',
    failureMeans: 'the quoted text is not legible',
  },
  { name: 'perceived_gender', description: 'perceived gender presentation (CLIP zero-shot)', higherIsBetter: null, range: null, kind: 'categorical' },
  // ocr_garbled declares no role (as a store written before roles existed): it counts as secondary
  { name: 'black', description: 'flag, 1 = the image is black', higherIsBetter: false, range: [0, 1], kind: 'binary', role: 'detail' },
];

/** the experiment's scorers list, which orders metrics of the same role */
export const SCORERS = ['colour-geometry', 'clip', 'ocr', 'health', 'bias'];

export interface SyntheticRunOptions {
  /** changes every unit key, as another refiner would */
  modelHash?: string;
  /** shift added to the refined conditions' CLIP score */
  refinerGain?: number;
  determinism?: unknown;
  /** unit (condition index, prompt index, seed) recorded as failed */
  failed?: [number, number, number];
  /** write only every other unit (by unit order), as one of two shards would */
  shard?: 0 | 1;
}

export function writeSyntheticRun(dir: string, options: SyntheticRunOptions = {}): void {
  const modelHash = options.modelHash ?? 'a'.repeat(64);
  const gain = options.refinerGain ?? 1.5;
  const failed = options.failed ?? [1, 0, 5];
  mkdirSync(join(dir, 'images'), { recursive: true });
  writeFileSync(
    join(dir, 'spec.json'),
    JSON.stringify({ name: 'synthetic', scorers: SCORERS, report: { title: 'Synthetic <b>report</b>', reference_condition: 'base-only', bootstrap_resamples: 300, seed: 11 } }, null, 2),
  );
  const manifest: Record<string, unknown> = {
    refineryVersion: '0.1.0',
    models: { base: { sha256: modelHash }, refiner: { sha256: 'b'.repeat(64) } },
    commandLine: ['run', 'experiments/synthetic.yaml', '--set', 'report.title=it\'s <b>'],
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:01:00.000Z',
  };
  if (options.determinism !== undefined) manifest.determinism = options.determinism;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));

  const store = RunStore.open(join(dir, 'refinery.sqlite'));
  const units: UnitRow[] = [];
  CONDITIONS.forEach((condition, c) =>
    PROMPTS.forEach((prompt, p) =>
      SEEDS.forEach((seed) => {
        const key = createHash('sha256').update(JSON.stringify([modelHash, condition.id, prompt.id, seed])).digest('hex');
        units.push({ key, conditionId: condition.id, condition, prompt, seed, trajectoryKey: `${prompt.id}|${seed}`, shard: null });
        void c;
        void p;
      }),
    ),
  );
  const kept = options.shard === undefined ? units : units.filter((_, i) => i % 2 === options.shard);
  units.splice(0, units.length, ...kept);
  store.addUnits(units);
  const okKeys: string[] = [];
  units.forEach((unit) => {
    const c = CONDITIONS.findIndex((condition) => condition.id === unit.conditionId);
    const p = PROMPTS.findIndex((prompt) => prompt.id === unit.prompt.id);
    if (c === failed[0] && p === failed[1] && unit.seed === failed[2]) {
      store.recordSample({ key: unit.key, imagePath: null, imageSha256: null, status: 'failed', error: 'NaN in latents', timings: {}, unetCalls: { base: 0, refiner: 0 }, createdAt: '2026-01-01T00:00:00.000Z' });
      return;
    }
    const size = 16;
    const data = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const o = (y * size + x) * 3;
        data[o] = (x * 16 + parseInt(unit.key.slice(0, 2), 16)) & 255;
        data[o + 1] = (y * 16 + c * 60) & 255;
        data[o + 2] = (p * 50 + unit.seed * 20) & 255;
      }
    }
    const png = encodePng({ width: size, height: size, data });
    writeFileSync(join(dir, 'images', `${unit.key}.png`), png);
    store.recordSample({
      key: unit.key,
      imagePath: `images/${unit.key}.png`,
      imageSha256: createHash('sha256').update(png).digest('hex'),
      status: 'ok',
      error: null,
      timings: { total: 1 },
      unetCalls: { base: 8, refiner: 0 },
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    okKeys.push(unit.key);
  });

  const scorers = {
    clip: { id: 'clip', version: '1' },
    geometry: { id: 'colour-geometry', version: '1' },
    health: { id: 'health', version: '1' },
    bias: { id: 'bias', version: '1' },
    ocr: { id: 'ocr', version: '1' },
  };
  store.recordMetrics(scorers.clip, [METRICS[0]]);
  store.recordMetrics(scorers.geometry, [METRICS[1]]);
  store.recordMetrics(scorers.health, [METRICS[2], METRICS[5]]);
  store.recordMetrics(scorers.ocr, [METRICS[3]]);
  store.recordMetrics(scorers.bias, [METRICS[4]]);
  const records: Record<keyof typeof scorers, ScoreRecord[]> = { clip: [], geometry: [], health: [], bias: [], ocr: [] };
  for (const unit of units) {
    if (!okKeys.includes(unit.key)) continue;
    const condition = CONDITIONS.find((cond) => cond.id === unit.conditionId)!;
    // values drawn per unit, so any subset of units (a shard) has the same values as the full run
    const rng = Pcg32.fromLabel(7, unit.key);
    const refined = condition.mode !== 'base-only';
    records.clip.push({ sampleKey: unit.key, scorer: 'clip', metric: 'clip_score', value: 25 + (refined ? gain : 0) + 2 * rng.nextGaussian() });
    records.health.push({ sampleKey: unit.key, scorer: 'health', metric: 'vae_roundtrip_error', value: 0.05 + 0.01 * rng.nextFloat() });
    records.health.push({ sampleKey: unit.key, scorer: 'health', metric: 'black', value: 0 });
    if (unit.prompt.category === 'spatial') {
      const correct = rng.nextFloat() < (refined ? 0.6 : 0.4);
      const undetermined = unit.seed === 0;
      records.geometry.push({
        sampleKey: unit.key,
        scorer: 'colour-geometry',
        metric: 'relation_correct',
        value: undetermined ? null : correct ? 1 : 0,
        label: undetermined ? 'undetermined' : correct ? 'correct' : 'wrong',
        detail: {
          imageSize: { width: 16, height: 16 },
          relations: [{ subject: { class: 'cube', color: 'red', box: { x1: 1, y1: 2, x2: 6, y2: 9 } }, reference: { class: 'sphere', color: 'blue', box: { x1: 8, y1: 3, x2: 15, y2: 12 } } }],
        },
      });
    }
    if (unit.prompt.category === 'text') {
      // garbled on even seeds
      records.ocr.push({ sampleKey: unit.key, scorer: 'ocr', metric: 'ocr_garbled', value: unit.seed % 2 === 0 ? 1 : 0, detail: { read: '' } });
    }
    if (unit.prompt.category === 'occupation') {
      const draw = rng.nextFloat();
      const label = draw < 0.15 ? 'unknown' : draw < (unit.prompt.id.endsWith('nurse') ? 0.8 : 0.35) ? 'female' : 'male';
      records.bias.push({
        sampleKey: unit.key,
        scorer: 'bias',
        metric: 'perceived_gender',
        value: null,
        label,
        detail: { probabilities: { female: 0.5, male: 0.5 }, note: 'perceived gender presentation, as predicted by tiny-clip' },
      });
    }
  }
  for (const [name, list] of Object.entries(records)) {
    const scorer = scorers[name as keyof typeof scorers];
    store.recordScores(scorer, okKeys, list);
  }
  store.close();
}
