/**
 * @module
 * Renders vega-lite specs to SVG strings in Node: compile with vega-lite, run a headless vega View
 * (renderer 'none'), `toSVG()`. Data is inline, so nothing is loaded; text is measured by vega's
 * built-in estimate (no canvas), which keeps the output identical across machines.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** a loader that refuses every request: charts must carry their data */
function offlineLoader(): vega.Loader {
  const refuse = (uri: string) => Promise.reject(new Error(`charts load nothing; refused ${uri}`));
  return {
    load: refuse,
    sanitize: (uri: string) => refuse(uri),
    http: refuse,
    file: refuse,
  } as unknown as vega.Loader;
}

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const compiled = compile(spec as unknown as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader: offlineLoader() });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
