import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  imageDescriptor,
  trajectoryKey,
  unitKey,
  unitSetKey,
  type KeyInput,
} from '../../harness/experiment/keys.js';
import type { Condition } from '../../harness/experiment/types.js';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('canonicalJson', () => {
  it('matches the JSON Canonicalization Scheme sample (cyberphone/json-canonicalization README)', () => {
    const input = JSON.parse(
      '{\n  "numbers": [1E30,4.50,6,2e-3,0.000000000000000000000000001],\n' +
        '  "escaping": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n' +
        '  "other":  [null, true, false]\n}',
    );
    expect(canonicalJson(input)).toBe(
      '{"escaping":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/","numbers":[1e+30,4.5,6,0.002,1e-27],"other":[null,true,false]}',
    );
  });

  it('sorts keys by UTF-16 code units, not by locale or code point (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const keysInText = [...canonicalJson(input).matchAll(/"([^"]*)":"([^"]*)"/g)].map((m) => m[2]);
    expect(keysInText).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
  });

  it('writes numbers in shortest round-trip form and -0 as 0', () => {
    expect(canonicalJson([333333333.33333329, 0.1 + 0.2, -0, 5.0, 1e21, 1e-7, 100])).toBe(
      '[333333333.3333333,0.30000000000000004,0,5,1e+21,1e-7,100]',
    );
    expect(canonicalJson({ z: { b: 1, a: [2, { d: null, c: true }] }, a: '' })).toBe(
      '{"a":"","z":{"a":[2,{"c":true,"d":null}],"b":1}}',
    );
  });

  it('rejects values JSON cannot represent exactly, naming where they are', () => {
    expect(() => canonicalJson({ a: [1, NaN] })).toThrow(/\$\.a\[1\] is NaN/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/Infinity/);
    expect(() => canonicalJson({ a: undefined })).toThrow(/\$\.a is undefined/);
    expect(() => canonicalJson([1, , 3])).toThrow(/\$\[1\] is undefined/);
    expect(() => canonicalJson({ big: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson({ when: new Date(0) })).toThrow(/Date/);
    expect(() => canonicalJson(new Map())).toThrow(/Map/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = { again: cyclic };
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
  });

  it('accepts shared (non-cyclic) references and null-prototype objects', () => {
    const shared = { x: 1 };
    const bare = Object.assign(Object.create(null) as object, { b: 2, a: 1 });
    expect(canonicalJson({ p: shared, q: shared, r: bare })).toBe('{"p":{"x":1},"q":{"x":1},"r":{"a":1,"b":2}}');
  });
});

const ensemble: Condition = {
  id: 'mode=ensemble,handoff=0.8,steps=40,guidance=5,scheduler=euler,size=1024x1024',
  label: 'handoff=0.8',
  mode: 'ensemble',
  handoff: 0.8,
  steps: 40,
  guidance: 5,
  refinerGuidance: 5,
  guidanceRescale: 0,
  scheduler: 'euler',
  schedulerConfig: {},
  width: 1024,
  height: 1024,
  negativePrompt: null,
  aestheticScore: 6,
  negativeAestheticScore: 2.5,
};

function input(overrides: Partial<Condition> = {}, rest: Partial<KeyInput> = {}): KeyInput {
  return {
    condition: { ...ensemble, ...overrides },
    promptText: 'a red cube on top of a blue sphere',
    seed: 7,
    models: { base: 'b'.repeat(64), refiner: 'r'.repeat(64) },
    schedulerConfigs: { base: { timestep_spacing: 'leading', steps_offset: 1 } },
    ...rest,
  };
}

describe('unitKey', () => {
  it('is sha256 of a canonical JSON fixed by hand (golden)', () => {
    const expected =
      '{"aesthetic_score":6,"base_model":"' + 'b'.repeat(64) + '","guidance":5,"guidance_rescale":0,' +
      '"handoff":0.8,"height":1024,"mode":"ensemble","negative_aesthetic_score":2.5,"negative_prompt":null,' +
      '"noise":"torch-cpu-mt19937","prompt":"a red cube on top of a blue sphere","refiner_guidance":5,' +
      '"refiner_model":"' + 'r'.repeat(64) + '","refiner_scheduler_config":{"steps_offset":1,"timestep_spacing":"leading"},' +
      '"scheduler":"euler","scheduler_config":{"steps_offset":1,"timestep_spacing":"leading"},"seed":7,"steps":40,' +
      '"version":"refinery-sdxl/1","width":1024}';
    expect(canonicalJson(imageDescriptor(input()))).toBe(expected);
    expect(unitKey(input())).toBe(sha256(expected));
    expect(unitKey(input())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with everything that determines the image', () => {
    const reference = unitKey(input());
    const changes: [string, KeyInput][] = [
      ['handoff', input({ handoff: 0.6 })],
      ['mode', input({ mode: 'sdedit', handoff: undefined, strength: 0.8 })],
      ['steps', input({ steps: 41 })],
      ['guidance', input({ guidance: 5.5 })],
      ['refiner guidance', input({ refinerGuidance: 7 })],
      ['guidance rescale', input({ guidanceRescale: 0.7 })],
      ['scheduler', input({ scheduler: 'ddim' })],
      ['width', input({ width: 1016 })],
      ['height', input({ height: 1016 })],
      ['negative prompt', input({ negativePrompt: 'blurry' })],
      ['empty negative prompt', input({ negativePrompt: '' })],
      ['aesthetic score', input({ aestheticScore: 7 })],
      ['negative aesthetic score', input({ negativeAestheticScore: 3 })],
      ['prompt', input({}, { promptText: 'a red cube on top of a blue sphere.' })],
      ['seed', input({}, { seed: 8 })],
      ['base model', input({}, { models: { base: 'c'.repeat(64), refiner: 'r'.repeat(64) } })],
      ['refiner model', input({}, { models: { base: 'b'.repeat(64), refiner: 's'.repeat(64) } })],
      ['scheduler config', input({}, { schedulerConfigs: { base: { timestep_spacing: 'trailing', steps_offset: 1 } } })],
      [
        'refiner scheduler config',
        input({}, { schedulerConfigs: { base: { timestep_spacing: 'leading', steps_offset: 1 }, refiner: { use_karras_sigmas: true } } }),
      ],
    ];
    const keys = new Set([reference]);
    for (const [what, changed] of changes) {
      const key = unitKey(changed);
      expect(key, what).not.toBe(reference);
      keys.add(key);
    }
    expect(keys.size).toBe(changes.length + 1);
  });

  it('keeps the key for what does not determine the image', () => {
    const reference = unitKey(input());
    // labels and ids are names, not settings; key order inside the scheduler config is irrelevant
    expect(unitKey(input({ id: 'other', label: 'renamed' }))).toBe(reference);
    expect(unitKey(input({}, { schedulerConfigs: { base: { steps_offset: 1, timestep_spacing: 'leading' } } }))).toBe(reference);
    expect(unitKey(input({ guidance: 5.0, handoff: 0.80 }))).toBe(reference);
    // the strength field is not read by an ensemble condition
    expect(unitKey(input({ strength: 0.3 }))).toBe(reference);
  });

  it('leaves the refiner out of base-only keys', () => {
    const baseOnly = (overrides: Partial<Condition>, rest: Partial<KeyInput> = {}) =>
      unitKey(input({ mode: 'base-only', handoff: undefined, ...overrides }, rest));
    const reference = baseOnly({});
    expect(baseOnly({ refinerGuidance: 9, aestheticScore: 1, negativeAestheticScore: 9 })).toBe(reference);
    expect(baseOnly({}, { models: { base: 'b'.repeat(64), refiner: 'z'.repeat(64) } })).toBe(reference);
    expect(baseOnly({}, { models: { base: 'b'.repeat(64) } })).toBe(reference);
    expect(baseOnly({ guidance: 6 })).not.toBe(reference);
  });

  it('refuses a refiner condition without a refiner hash', () => {
    expect(() => unitKey(input({}, { models: { base: 'b'.repeat(64) } }))).toThrow(/no refiner model hash/);
  });
});

describe('trajectoryKey', () => {
  it('is shared by units that differ only in mode, handoff or strength', () => {
    const reference = trajectoryKey(input());
    expect(trajectoryKey(input({ handoff: 0.6 }))).toBe(reference);
    expect(trajectoryKey(input({ mode: 'sdedit', handoff: undefined, strength: 0.3, refinerGuidance: 9 }))).toBe(reference);
    expect(trajectoryKey(input({ mode: 'base-only', handoff: undefined }))).toBe(reference);
    expect(trajectoryKey(input({ steps: 20 }))).not.toBe(reference);
    expect(trajectoryKey(input({}, { seed: 1 }))).not.toBe(reference);
    expect(trajectoryKey(input({ negativePrompt: 'x' }))).not.toBe(reference);
  });
});

describe('unitSetKey', () => {
  it('ignores order and duplicates', () => {
    expect(unitSetKey(['b', 'a', 'b'])).toBe(unitSetKey(['a', 'b']));
    expect(unitSetKey(['a', 'b'])).toBe(sha256('["a","b"]'));
    expect(unitSetKey(['a'])).not.toBe(unitSetKey(['a', 'b']));
  });
});
