// Fitted maps on disk: a `.npz` (numpy.load reads it) holding W [F, D], b [1, F] when the map has
// a bias, and meta.json (the fit settings, the loss per epoch, the separation before and after,
// the number of memories fitted), so a fit is not repeated for every batch of queries and a
// loaded fit can be checked against the model that asks for it.
import { inputError } from "../diagnostics.ts";
import { encodeNpz, parseNpz } from "../io/npz.ts";
import type { FitResult, FitSettings } from "./fit.ts";
import type { LinearMap } from "./linear_map.ts";

export interface StoredFit {
  settings: FitSettings;
  result: FitResult;
}

export function encodeFit(fit: StoredFit): Uint8Array {
  const { map, losses, separation, fitted } = fit.result;
  const arrays = {
    W: { rows: map.outputs, cols: map.inputs, data: map.weight },
    ...(map.bias ? { b: { rows: 1, cols: map.outputs, data: map.bias } } : {}),
  };
  const meta = { format: "hopc-fit/1", settings: fit.settings, losses, separation, fitted };
  return encodeNpz(arrays, { "meta.json": new TextEncoder().encode(JSON.stringify(meta)) });
}

/** Read a fit saved by encodeFit; `file` names it in errors. */
export async function decodeFit(bytes: Uint8Array, file: string): Promise<StoredFit> {
  const { arrays, other } = await parseNpz(bytes, file);
  const fail = (what: string) =>
    inputError(file, `not a hopc fit: ${what}`, "save one with --save-fit, or fit again");
  if (!other["meta.json"]) throw fail("it has no meta.json");
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(new TextDecoder().decode(other["meta.json"]));
  } catch {
    throw fail("meta.json is not JSON");
  }
  if (meta.format !== "hopc-fit/1") throw fail(`unknown format ${JSON.stringify(meta.format)}`);
  const W = arrays.W;
  if (!W) throw fail("it has no W");
  const settings = meta.settings as FitSettings;
  if (W.rows !== settings.outputs) {
    throw fail(`W has ${W.rows} rows but the settings say ${settings.outputs} features`);
  }
  const b = arrays.b;
  if (settings.bias !== (b !== undefined)) {
    throw fail(settings.bias ? "the settings have a bias but there is no b" : "b is unexpected");
  }
  if (b && (b.rows !== 1 || b.cols !== W.rows)) {
    throw fail(`b has shape [${b.rows}, ${b.cols}], want [1, ${W.rows}]`);
  }
  const map: LinearMap = {
    inputs: W.cols,
    outputs: W.rows,
    weight: W.data,
    bias: b ? b.data : null,
  };
  return {
    settings,
    result: {
      map,
      losses: meta.losses as number[],
      separation: meta.separation as FitResult["separation"],
      fitted: meta.fitted as number,
    },
  };
}
