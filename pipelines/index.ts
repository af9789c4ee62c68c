// Public surface of pipelines/: everything that turns a unit into pixels.
export { UserError, isUserError } from './errors.js';
export { encodePng, decodePng, type RgbImage, type PngText, type DecodedPng } from './image/png.js';
export * from './onnx/tensor.js';
export * from './onnx/writer.js';
export * from './onnx/reader.js';
