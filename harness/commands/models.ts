import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../pipelines/errors.js';
import { describeValue, inspectModelFolder, type ModelFolderKind, type ModelFolderReport } from '../../pipelines/model-folder.js';
import type { DeclaredValue } from '../../pipelines/onnx/reader.js';
import { writeTinyModels } from '../../pipelines/tiny/tiny-models.js';

interface TinyArgs {
  out: string;
  seed: number;
  exporter: string;
  fp16: boolean;
  'unet-width': number;
  'external-data': boolean;
}

interface InspectArgs {
  dir: string;
  kind?: ModelFolderKind;
  json: boolean;
}

const tinyCommand: CommandModule<object, TinyArgs> = {
  command: 'tiny',
  describe: 'Write the tiny random-weight SDXL base, refiner and CLIP folders (deterministic per seed)',
  builder: (yargs: Argv) =>
    yargs
      .option('out', { type: 'string', demandOption: true, describe: 'output folder (gets base/, refiner/, clip/)' })
      .option('seed', { type: 'number', default: 0, describe: 'weight seed; the same options give byte-identical files' })
      .option('exporter', {
        type: 'string',
        choices: ['a', 'b', 'A', 'B'],
        default: 'b',
        describe: 'optimum exporter generation to imitate: a (int32 CLIP-L ids, int64 timestep, sampled VAE latents) or b',
      })
      .option('fp16', { type: 'boolean', default: false, describe: 'fp16 UNet and text encoders (the VAE stays fp32)' })
      .option('unet-width', { type: 'number', default: 8, describe: 'UNet conv channels (raise for benchmarks)' })
      .option('external-data', { type: 'boolean', default: false, describe: 'store text_encoder_2 and UNet weights in model.onnx_data' }) as Argv<TinyArgs>,
  handler: async (argv) => {
    const folders = await writeTinyModels(argv.out, {
      seed: argv.seed,
      exporter: argv.exporter.toUpperCase() as 'A' | 'B',
      fp16: argv.fp16,
      unetWidth: argv['unet-width'],
      externalData: argv['external-data'],
    });
    console.log(`base:    ${folders.base}\nrefiner: ${folders.refiner}\nclip:    ${folders.clip}`);
  },
};

/** Prints declared values, folding runs of hidden_states.k with the same dtype and dims into one line. */
function valueLines(prefix: string, values: DeclaredValue[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const match = /^hidden_states\.(\d+)$/.exec(value.name);
    let j = i;
    if (match) {
      const same = (other: DeclaredValue) => other.dtype === value.dtype && JSON.stringify(other.dims) === JSON.stringify(value.dims);
      while (j + 1 < values.length && values[j + 1].name === `hidden_states.${Number(match[1]) + (j + 1 - i)}` && same(values[j + 1])) j++;
    }
    if (j > i + 1) {
      lines.push(`${prefix} ${value.name} … ${values[j].name} (${j - i + 1} outputs) ${describeValue(value).slice(value.name.length + 1)}`);
      i = j;
    } else {
      lines.push(`${prefix} ${describeValue(value)}`);
    }
  }
  return lines;
}

function factLines(report: ModelFolderReport): string[] {
  const sdxl = report.sdxl;
  if (sdxl) {
    const widths = sdxl.textEncoder ? `${sdxl.textEncoder.hiddenSize} + ${sdxl.textEncoder2.hiddenSize}` : `${sdxl.textEncoder2.hiddenSize}`;
    const ids = Object.entries(sdxl.inputIdsDTypes).map(([k, v]) => `${k} ${v}`).join(', ');
    const penultimate = Object.values(sdxl.penultimateOutputs).join(' + ');
    return [
      `exporter generation ${sdxl.generation}; float dtype ${sdxl.floatDType} (VAE ${sdxl.vaeDecoder.floatDType})`,
      `input_ids: ${ids}; timestep ${sdxl.timestep.dtype} ${sdxl.timestep.rank === 0 ? 'scalar' : '[1]'}; VAE encoder returns ${sdxl.vaeEncoderOutput}`,
      `context ${sdxl.contextWidth} (${widths}) from ${penultimate}; pooled ${sdxl.pooledWidth}; ${sdxl.timeIdCount} time ids`,
      `scaling_factor ${sdxl.scalingFactor}; force_zeros_for_empty_prompt ${sdxl.forceZerosForEmptyPrompt}; requires_aesthetics_score ${sdxl.requiresAestheticsScore}; scheduler ${String(sdxl.schedulerConfig._class_name)}`,
    ];
  }
  const clip = report.clip;
  if (clip) {
    const p = clip.preprocessing;
    return [
      `projection_dim ${clip.projectionDim}; text input_ids ${clip.textModel.inputIdsDType}${clip.textModel.takesAttentionMask ? ' + attention_mask' : ''}; image ${clip.visionModel.imageSize}x${clip.visionModel.imageSize}`,
      `preprocess: shortest edge ${p.shortestEdge} (resample ${p.resample}), crop ${p.cropHeight}x${p.cropWidth}, rescale ${p.rescaleFactor}, mean [${p.imageMean.join(', ')}], std [${p.imageStd.join(', ')}]`,
    ];
  }
  return [];
}

const KIND_LABELS: Record<string, string> = { base: 'SDXL base', refiner: 'SDXL refiner', clip: 'CLIP', unknown: 'unknown' };

const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <dir>',
  describe: "Print each submodel's inputs/outputs and check the folder (SDXL base, SDXL refiner or CLIP)",
  builder: (yargs: Argv) =>
    yargs
      .positional('dir', { type: 'string', demandOption: true, describe: 'model folder' })
      .option('kind', { type: 'string', choices: ['base', 'refiner', 'clip'], describe: 'fail unless the folder is of this kind' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' }) as Argv<InspectArgs>,
  handler: async (argv) => {
    const report = inspectModelFolder(argv.dir, argv.kind);
    const valid = report.problems.length === 0 && (report.sdxl !== undefined || report.clip !== undefined);
    if (argv.json) {
      console.log(JSON.stringify({ valid, ...report }, null, 2));
    } else {
      console.log(`${report.dir}: ${KIND_LABELS[report.kind]} folder${report.kindEvidence.length ? ` (${report.kindEvidence.join(', ')})` : ''}`);
      for (const submodel of report.submodels) {
        console.log(`  ${submodel.name}  ${submodel.modelPath}`);
        for (const line of [...valueLines('    in ', submodel.inputs), ...valueLines('    out', submodel.outputs)]) console.log(line);
      }
      for (const line of factLines(report)) console.log(`  ${line}`);
      for (const warning of report.warnings) console.log(`  warning: ${warning}`);
      if (valid) console.log(`valid ${KIND_LABELS[report.kind]} folder`);
      for (const problem of report.problems) console.error(`error: ${problem}`);
    }
    if (!valid) {
      if (report.problems.length === 0) throw new UserError(`${report.dir}: not a valid model folder`);
      process.exitCode = 1;
    }
  },
};

export const modelsCommand: CommandModule<object, object> = {
  command: 'models',
  describe: 'Tiny test models and model folder checks (tiny, inspect)',
  builder: (yargs: Argv) => yargs.command(tinyCommand).command(inspectCommand).demandCommand(1, 'Name a models subcommand: tiny or inspect.'),
  handler: () => {},
};
