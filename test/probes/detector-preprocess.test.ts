import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../pipelines/image/png.js';
import { gaussianWeights, owlPixelValues, type OwlPreprocessing } from '../../probes/detector/owl-preprocess.js';

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

function preprocessing(modelType: 'owlvit' | 'owlv2', size: number): OwlPreprocessing {
  return {
    modelType,
    doResize: true,
    height: size,
    width: size,
    resample: modelType === 'owlv2' ? 2 : 3,
    doCenterCrop: false,
    cropHeight: size,
    cropWidth: size,
    doPad: modelType === 'owlv2',
    padValue: 0,
    doRescale: true,
    rescaleFactor: 1 / 255,
    doNormalize: true,
    imageMean: CLIP_MEAN,
    imageStd: CLIP_STD,
  };
}

/** The reference script's test pattern: (37y + 101x + 59c + 13xy) mod 256. */
function pattern(height: number, width: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (37 * y + 101 * x + 59 * c + 13 * x * y) % 256;
  return { width, height, data };
}

/**
 * pixel_values (CHW) computed with numpy 2.4.6 + scipy 1.17.1 by the steps of transformers'
 * Owlv2ImageProcessor (rescale to float32, pad bottom/right to a square with 0.0, scipy
 * gaussian_filter(σ = max(0, (in/out − 1)/2), mode "mirror") then zoom(order=1, grid_mode=True, mode
 * "mirror"), clip to the input range, normalize with float32 CLIP mean/std).
 */
const SCIPY_REFERENCE: Record<string, number[]> = {
  '5x7->3': [
    -0.37937965989112854, -0.06670592725276947, 0.5442543625831604, 0.5469595789909363, -0.33169785141944885,
    -0.12149512022733688, -1.585292100906372, -1.5047184228897095, -1.5416556596755981, 0.13110223412513733,
    -0.058844804763793945, -0.36141955852508545, -0.19292347133159637, -0.13741859793663025, 0.3324364125728607,
    -1.4948382377624512, -1.5339677333831787, -1.4408774375915527, 0.10996327549219131, 0.7145840525627136,
    0.5085862278938293, 0.5850566029548645, 0.4551980197429657, -0.05625077337026596, -1.2807013988494873,
    -1.163831114768982, -1.3364416360855103,
  ],
  '3x2->5': [
    -1.381754755973816, -1.079275369644165, -0.1718371957540512, -1.144092321395874, -1.468177318572998,
    -1.2661352157592773, -0.9560645818710327, -0.02585294470191002, -1.0856986045837402, -1.4389805793762207,
    -0.9192765951156616, -0.5864323973655701, 0.4120999276638031, -0.9105175733566284, -1.35139000415802,
    -0.5724179744720459, -0.21680036187171936, 0.8500526547431946, -0.735336422920227, -1.2637994289398193,
    -0.4567984938621521, -0.09358963370323181, 0.996036946773529, -0.676942765712738, -1.2346025705337524,
    -0.4446203410625458, -0.13365940749645233, 0.7992235422134399, -0.7315688133239746, -1.241832971572876,
    -0.32575884461402893, -0.006993839051574469, 0.9493011832237244, -0.6715377569198608, -1.2118175029754639,
    0.030825765803456306, 0.3730029761791229, 1.3995342254638672, -0.49144455790519714, -1.1217708587646484,
    -0.07362823188304901, -0.16907763481140137, -0.4554259479045868, -1.233428716659546, -1.4927629232406616,
    -0.10844630002975464, -0.3497712016105652, -1.0737459659576416, -1.4807566404342651, -1.6164268255233765,
    0.45200270414352417, 0.601029098033905, 1.0481079816818237, -0.46888867020606995, -0.974554181098938,
    0.4190123379230499, 0.4298194348812103, 0.46224117279052734, -0.703235387802124, -1.091727614402771,
    0.32004061341285706, -0.08380929380655289, -1.2953588962554932, -1.4062755107879639, -1.4432475566864014,
    0.6579093337059021, 0.27624282240867615, -0.8687569499015808, -1.235634684562683, -1.3579272031784058,
    0.7705323696136475, 0.39626017212867737, -0.7265563011169434, -1.178754448890686, -1.3294870853424072,
  ],
  '12x12->5': [
    -0.35504084825515747, 0.015092561021447182, 0.4640876054763794, -0.07000212371349335, 0.01219808217138052,
    0.4728378355503082, -0.19231244921684265, -0.030655737966299057, 0.31226402521133423, 0.3976661264896393,
    0.10699809342622757, 0.32005104422569275, 0.08502046763896942, 0.20399209856987, 0.2424987554550171,
    0.19363299012184143, 0.06160203367471695, 0.19937047362327576, -0.12444107234477997, 0.15899331867694855,
    -0.31025731563568115, -0.5529801845550537, 0.45625951886177063, -0.007124589756131172, -0.3094901442527771,
    0.10829107463359833, -0.09068358689546585, -0.24752813577651978, 0.8181667923927307, 0.33496201038360596,
    -0.1445593386888504, -0.05826837942004204, 0.4937106668949127, -0.04831429943442345, 0.10978254675865173,
    0.5255528688430786, 0.28986868262290955, 0.4198358654975891, 0.2893381118774414, -0.11889857053756714,
    0.05022742226719856, 0.5775991082191467, 0.3551238179206848, 0.6450944542884827, -0.05060835927724838,
    0.6392793655395508, 0.0391928032040596, -0.14316172897815704, 0.7946310639381409, 0.2595958411693573,
    0.10321645438671112, 0.6332102417945862, 0.4578249156475067, 0.026840418577194214, -0.11934249103069305,
    0.5519445538520813, 0.40830355882644653, -0.02609875798225403, 0.3647193908691406, 0.3091665208339691,
    -0.016036882996559143, 0.14264264702796936, 0.20311212539672852, 0.46252474188804626, -0.014761695638298988,
    0.23966741561889648, -0.0756671205163002, 0.42370155453681946, -0.09723852574825287, 0.5741710662841797,
    0.6541311144828796, 0.8807122111320496, 0.39432060718536377, -0.09818108379840851, 0.792176365852356,
  ],
};

describe('OWLv2 preprocessing', () => {
  for (const [key, expected] of Object.entries(SCIPY_REFERENCE)) {
    it(`matches the scipy reference for ${key} (pad, anti-aliased linear resize, normalize)`, () => {
      const [height, width, size] = key.split(/x|->/).map(Number);
      const result = owlPixelValues(pattern(height, width), preprocessing('owlv2', size));
      expect([result.height, result.width]).toEqual([size, size]);
      expect(result.data.length).toBe(expected.length);
      const worst = Math.max(...expected.map((v, i) => Math.abs(v - result.data[i])));
      expect(worst).toBeLessThan(2e-6);
    });
  }

  it('scales boxes by the padded square side on both axes', () => {
    const result = owlPixelValues(pattern(5, 7), preprocessing('owlv2', 3));
    expect([result.boxScaleX, result.boxScaleY]).toEqual([7, 7]);
  });

  it('pads with 0.0 (black) before normalizing, as OWLv2 does', () => {
    const white: RgbImage = { width: 4, height: 2, data: new Uint8Array(4 * 2 * 3).fill(255) };
    const result = owlPixelValues(white, preprocessing('owlv2', 4));
    const plane = 16;
    for (let c = 0; c < 3; c++) {
      expect(result.data[c * plane + 0]).toBeCloseTo((1 - CLIP_MEAN[c]) / CLIP_STD[c], 5); // image row
      expect(result.data[c * plane + 3 * 4]).toBeCloseTo((0 - CLIP_MEAN[c]) / CLIP_STD[c], 5); // padded row
    }
  });

  it('uses scipy gaussian_filter1d weights (radius int(4σ + 0.5), normalised)', () => {
    const weights = gaussianWeights(0.5);
    expect(weights.length).toBe(5);
    const raw = [-2, -1, 0, 1, 2].map((x) => Math.exp(-2 * x * x));
    const sum = raw.reduce((a, b) => a + b, 0);
    raw.forEach((w, i) => expect(weights[i]).toBeCloseTo(w / sum, 15));
    expect(gaussianWeights(0.1).length).toBe(1);
  });
});

describe('OWL-ViT preprocessing', () => {
  it('stretches any aspect ratio to the fixed size and scales boxes back by width and height', () => {
    const colour = [200, 100, 30];
    const image: RgbImage = { width: 128, height: 64, data: new Uint8Array(128 * 64 * 3) };
    for (let i = 0; i < 128 * 64; i++) image.data.set(colour, i * 3);
    const result = owlPixelValues(image, preprocessing('owlvit', 32));
    expect([result.width, result.height, result.boxScaleX, result.boxScaleY]).toEqual([32, 32, 128, 64]);
    for (let c = 0; c < 3; c++) {
      // a constant image stays constant under any resampling; then float32 rescale and normalize
      const expected = Math.fround(Math.fround(Math.fround(colour[c] / 255) - Math.fround(CLIP_MEAN[c])) / Math.fround(CLIP_STD[c]));
      const plane = result.data.subarray(c * 32 * 32, (c + 1) * 32 * 32);
      expect(plane.every((v) => v === expected)).toBe(true);
    }
  });
});
