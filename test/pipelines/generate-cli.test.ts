import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../harness/cli.js';
import { readGenerationRecord } from '../../pipelines/image/metadata.js';
import { decodePng } from '../../pipelines/image/png.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';

const root = mkdtempSync(join(tmpdir(), 'refinery-generate-'));
const cacheDir = join(root, 'cache');
let tiny: TinyModelFolders;

beforeAll(async () => {
  tiny = await ensureTinyModels(cacheDir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts) => void stdout.push(parts.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts) => void stderr.push(parts.join(' ')));
  try {
    const code = await main(['generate', ...args, '--cache-dir', cacheDir]);
    const exitCode = process.exitCode;
    process.exitCode = undefined;
    return { code: code || (typeof exitCode === 'number' ? exitCode : 0), stdout, stderr };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('refinery generate', () => {
  it('writes <seed>-<mode>.png with the parameters, prints the paths, and notes the tiny models', async () => {
    const out = join(root, 'ok');
    const result = await run(['a photo of a cat', '--seeds', '3,4', '--steps', '4', '--size', '64x64', '--refine-strength', '0.5', '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toEqual([join(out, '3-sdedit-0.5.png'), join(out, '4-sdedit-0.5.png')]);
    expect(result.stderr.some((l) => l.includes('tiny random-weight test models'))).toBe(true);
    expect(result.stderr.some((l) => /unet: running on cpu/.test(l))).toBe(true);
    const png = decodePng(readFileSync(join(out, '3-sdedit-0.5.png')));
    expect(png.image.width).toBe(64);
    expect(png.texts[0].text).toMatch(/^a photo of a cat\nSteps: 4, Sampler: Euler, CFG scale: 5, Seed: 3, Size: 64x64, .*Denoising strength: 0.5/);
    expect(readGenerationRecord(png.texts)).toMatchObject({ seed: 3, mode: 'sdedit', strength: 0.5, negativePrompt: null });
    expect(readdirSync(out).sort()).toEqual(['3-sdedit-0.5.png', '4-sdedit-0.5.png']); // no temp files left
  });

  it('same arguments give byte-identical files; explicit model folders work', async () => {
    const args = ['--prompt', 'a red cube', '--negative', '', '--seed', '5', '--steps', '4', '--width', '64', '--height', '48', '--handoff', '0.5'];
    const a = await run([...args, '--out', join(root, 'a')]);
    const b = await run([...args, '--out', join(root, 'b'), '--models', `base=${tiny.base}`, `refiner=${tiny.refiner}`]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(b.stderr.some((l) => l.includes('tiny random-weight'))).toBe(false);
    const fileA = readFileSync(join(root, 'a', '5-ensemble-0.5.png'));
    expect(fileA.equals(readFileSync(join(root, 'b', '5-ensemble-0.5.png')))).toBe(true);
    expect(readGenerationRecord(decodePng(fileA).texts)?.negativePrompt).toBe('');
  });

  it.each([
    ['missing model folder', ['--models', 'base=/nonexistent/sdxl-base', '--base-only'], /base model folder .*does not exist/],
    ['refiner folder as base', ['--models', 'BASE', 'refiner=REFINER'], /refiner|text_encoder/],
    ['size not a multiple of 8', ['--size', '100x100'], /--width 100 is not a positive multiple of 8/],
    ['handoff 0', ['--handoff', '0'], /--handoff must be in \(0, 1\]/],
    ['handoff above 1', ['--handoff', '1.5'], /--handoff must be in \(0, 1\]/],
    ['unknown scheduler', ['--scheduler', 'heun'], /unknown scheduler "heun"/],
    ['empty seed list', ['--seeds', ','], /seed list is empty/],
    ['two modes', ['--base-only', '--handoff', '0.8'], /choose one of/],
  ])('%s: one-line error, exit 1, no output', async (_, extra, message) => {
    const out = join(root, `err-${Math.random().toString(36).slice(2)}`);
    const args = extra.map((a) => (a === 'BASE' ? `base=${tiny.refiner}` : a === 'refiner=REFINER' ? `refiner=${tiny.refiner}` : a));
    const size = args.includes('--size') ? [] : ['--size', '64x64'];
    const result = await run(['a cat', '--steps', '4', ...size, '--out', out, ...args]);
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    const errors = result.stderr.filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).not.toContain('\n');
    expect(errors[0]).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});
