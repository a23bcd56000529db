// Fitted maps on disk: a `.npz` (numpy.load reads it) holding W [F, D], b [1, F] when the map has
// a bias, and meta.json (the fit settings, the loss per epoch, the separation before and after,
// the number of memories fitted); A-Hop's fits hold w [1, D], a and b [1, 1] instead (format
// hopc-fit-ahop/1, settings: the similarity's arguments, beta and D), so a fit is not repeated for every batch of queries and a
// loaded fit can be checked against the model that asks for it.
import { inputError } from "../diagnostics.ts";
import { encodeNpz, parseNpz } from "../io/npz.ts";
import type { FitResult, FitSettings } from "./fit.ts";
import type { LinearMap } from "./linear_map.ts";

/** The fitted map of uhop or kernelized (format hopc-fit/1). */
export interface MapFit {
  settings: FitSettings;
  result: FitResult;
}

/**
 * The settings an A-Hop fit was made with (the model's `similarity ahop(...)` arguments, its
 * beta, and the memories' D), checked against the model that loads it.
 */
export interface AhopFitSettings {
  corrupt: "mask" | "dropout" | "noise" | "bias";
  level: number;
  samples: number;
  epochs: number;
  lr: number;
  scales: "all" | "geometric";
  seed: number;
  beta: number;
  D: number;
}

/**
 * A-Hop's fitted footprint weights w (D), mixing scalars a, b (format hopc-fit-ahop/1: arrays w
 * [1, D], a [1, 1], b [1, 1]), the loss per epoch and the number of memories fitted.
 */
export interface AhopFit {
  kind: "ahop";
  settings: AhopFitSettings;
  params: { w: Float64Array; a: number; b: number };
  losses: number[];
  fitted: number;
}

/** A learned similarity's fit: a feature map (uhop, kernelized) or A-Hop's footprint weights. */
export type StoredFit = MapFit | AhopFit;

export function isAhopFit(fit: StoredFit): fit is AhopFit {
  return (fit as AhopFit).kind === "ahop";
}

/** The feature map fit of uhop or kernelized; an A-Hop fit (or none) is an error. */
export function asMapFit(fit: StoredFit | null | undefined): MapFit {
  if (!fit || isAhopFit(fit)) {
    throw new TypeError(
      `not a feature map fit (uhop, kernelized): ${fit ? "an A-Hop fit" : "none"}`,
    );
  }
  return fit;
}

export function encodeFit(fit: StoredFit): Uint8Array {
  if (isAhopFit(fit)) {
    const { w, a, b } = fit.params;
    const one = (v: number) => ({ rows: 1, cols: 1, data: Float64Array.of(v) });
    const meta = {
      format: "hopc-fit-ahop/1",
      settings: fit.settings,
      losses: fit.losses,
      fitted: fit.fitted,
    };
    return encodeNpz(
      { w: { rows: 1, cols: w.length, data: w }, a: one(a), b: one(b) },
      { "meta.json": new TextEncoder().encode(JSON.stringify(meta)) },
    );
  }
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
  if (meta.format === "hopc-fit-ahop/1") {
    const { w, a, b } = arrays;
    if (!w || !a || !b) throw fail("an A-Hop fit holds arrays w, a and b");
    const settings = meta.settings as AhopFitSettings;
    if (w.rows !== 1 || w.cols !== settings?.D) {
      throw fail(`w has shape [${w.rows}, ${w.cols}], want [1, ${settings?.D}] (D)`);
    }
    for (const [name, m] of [["a", a], ["b", b]] as const) {
      if (m.rows * m.cols !== 1) {
        throw fail(`${name} has shape [${m.rows}, ${m.cols}], want [1, 1]`);
      }
    }
    return {
      kind: "ahop",
      settings,
      params: { w: w.data, a: a.data[0], b: b.data[0] },
      losses: meta.losses as number[],
      fitted: meta.fitted as number,
    };
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
