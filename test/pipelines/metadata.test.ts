import { describe, expect, it } from 'vitest';
import { type GenerationRecord, a1111Parameters, a1111Sampler, generationTexts, readGenerationRecord, REFINERY_VERSION } from '../../pipelines/image/metadata.js';
import { decodePng, encodePng } from '../../pipelines/image/png.js';

const record: GenerationRecord = {
  prompt: 'a photo of a cat, studio light',
  negativePrompt: 'blurry',
  seed: 1,
  steps: 40,
  scheduler: 'euler',
  schedulerConfig: { _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'leading' },
  guidance: 5,
  mode: 'ensemble',
  handoff: 0.8,
  width: 1024,
  height: 1024,
  models: { base: { hash: 'sha256:0123456789abcdef' }, refiner: { hash: 'fedcba9876543210' } },
};

/** The last-line parser of AUTOMATIC1111's `parse_generation_parameters` (its documented regex). */
function parseA1111(text: string) {
  const lines = text.split('\n');
  const last = lines.pop()!;
  const fields: Record<string, string> = {};
  for (const match of last.matchAll(/\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g)) {
    fields[match[1]] = match[2].startsWith('"') ? JSON.parse(match[2]) : match[2];
  }
  const negativeIndex = lines.findIndex((l) => l.startsWith('Negative prompt: '));
  const prompt = (negativeIndex < 0 ? lines : lines.slice(0, negativeIndex)).join('\n');
  const negative = negativeIndex < 0 ? '' : lines.slice(negativeIndex).join('\n').slice('Negative prompt: '.length);
  return { prompt, negative, fields };
}

describe('PNG generation metadata', () => {
  it('writes A1111 parameters that its parser reads back', () => {
    const text = a1111Parameters(record);
    expect(text.split('\n')[0]).toBe('a photo of a cat, studio light');
    const parsed = parseA1111(text);
    expect(parsed.prompt).toBe(record.prompt);
    expect(parsed.negative).toBe('blurry');
    expect(parsed.fields).toMatchObject({
      Steps: '40',
      Sampler: 'Euler',
      'CFG scale': '5',
      Seed: '1',
      Size: '1024x1024',
      'Model hash': '0123456789',
      Refiner: 'refiner [fedcba9876]',
      'Refiner switch at': '0.8',
      Version: `refinery ${REFINERY_VERSION}`,
    });
    expect(REFINERY_VERSION).toBe('0.1.0');
  });

  it('names strength for SDEdit, omits refiner fields for base-only and the negative line when absent', () => {
    const sdedit = parseA1111(a1111Parameters({ ...record, mode: 'sdedit', handoff: undefined, strength: 0.3 }));
    expect(sdedit.fields['Denoising strength']).toBe('0.3');
    expect(sdedit.fields['Refiner switch at']).toBeUndefined();
    const base = a1111Parameters({ ...record, mode: 'base-only', negativePrompt: null, handoff: undefined });
    expect(base).not.toMatch(/Refiner|Negative prompt/);
  });

  it('maps scheduler names to A1111 sampler names', () => {
    expect(a1111Sampler('EulerDiscreteScheduler')).toEqual({ sampler: 'Euler', scheduleType: undefined });
    expect(a1111Sampler('euler-ancestral').sampler).toBe('Euler a');
    expect(a1111Sampler('dpm++2m', { use_karras_sigmas: true })).toEqual({ sampler: 'DPM++ 2M', scheduleType: 'Karras' });
    expect(a1111Sampler('ddim').sampler).toBe('DDIM');
  });

  it('round-trips the full record through a PNG (null negative stays null)', () => {
    const full = { ...record, negativePrompt: null, prompt: 'ünïcode prompt ✓' };
    const png = encodePng({ width: 1, height: 1, data: Uint8Array.of(1, 2, 3) }, generationTexts(full));
    const decoded = decodePng(png);
    const back = readGenerationRecord(decoded.texts);
    expect(back).toEqual({ refineryVersion: REFINERY_VERSION, ...full });
    expect(decoded.texts.map((t) => t.keyword)).toEqual(['parameters', 'refinery']);
  });
});
