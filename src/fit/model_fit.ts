// The fit of a model's learned similarity (src/parts/similarity/learned.ts) at load: from the
// memories after the input post-transform, or a saved fit (src/fit/store.ts) checked against the
// model's similarity settings and D. Shared by the float64 reference, the GPU runtime, the
// library and the CLI, so every path scores with one fit.
import { inputError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { fitSettings, isLearned } from "../parts/similarity/learned.ts";
import { modelError } from "../shapes.ts";
import { fitMap, type FitProgress, type FitSettings } from "./fit.ts";
import { applyMap } from "./linear_map.ts";
import {
  type AhopFit,
  type AhopFitSettings,
  isAhopFit,
  type MapFit,
  type StoredFit,
} from "./store.ts";
import { type AhopSpec, isAhop } from "../parts/similarity/ahop.ts";
import { contextSamples, fitAhop, geometricScales } from "./ahop.ts";

export interface ModelFitOptions {
  /** A saved fit to use instead of fitting (checked against the model and D). */
  fit?: StoredFit;
  /** Names the saved fit in errors (a file, or "fit" for the library's option). */
  file?: string;
  /** Called once per epoch of a fit. */
  onProgress?: (p: FitProgress) => void;
}

/** The settings' names in the language, for messages about a saved fit that does not match. */
const ARG_OF: Partial<Record<keyof FitSettings, string>> = {
  temperature: "t / tau",
  outputs: "dim (features; D for uhop)",
  optimizer: "the similarity (uhop: sgd, kernelized: adam)",
  bias: "the similarity (kernelized has a bias, uhop none)",
  initStd: "D (the initial scale)",
};

/**
 * The fit of `model`'s learned similarity on its prepared memories X (M x D), or null when the
 * similarity is not learned (a fit given to such a model is refused: it would be ignored).
 */
export function modelFit(model: Model, X: Mat, opts: ModelFitOptions = {}): StoredFit | null {
  const file = opts.file ?? "fit";
  const spec = model.similarity;
  if (isAhop(spec)) return ahopFit(model, spec, X, opts, file);
  if (!isLearned(spec)) {
    if (opts.fit) {
      throw inputError(
        file,
        `model \`${model.name}\` has no learned similarity (it is \`${spec.kind}\`), so it takes no fit`,
        "give a fit only to a model with `similarity uhop(...)`, `kernelized(...)` or `ahop(...)`",
      );
    }
    return null;
  }
  const D = X.cols;
  const settings = fitSettings(spec, D);
  if (opts.fit) {
    if (isAhopFit(opts.fit)) {
      throw inputError(
        file,
        `the fit is A-Hop's footprint weights but model \`${model.name}\`'s similarity is \`${spec.kind}\``,
        "fit again with this model (leave out --fit, add --save-fit F.npz), or give the fit saved for it",
      );
    }
    checkFit(opts.fit, settings, model, D, file);
    return opts.fit;
  }
  if (X.rows < 2) {
    throw modelError(
      model,
      "similarity",
      `\`similarity ${spec.kind}\` fits its feature map to the memories and needs at least 2, got M = ${X.rows}`,
      "store at least two memories, or give a saved fit (--fit F.npz; library: { fit })",
    );
  }
  const result = fitMap(X.data, X.rows, D, settings, opts.onProgress);
  return { settings, result };
}

/** A saved fit must be the one this model would make: same settings, same D. */
function checkFit(fit: MapFit, want: FitSettings, model: Model, D: number, file: string): void {
  const { map } = fit.result;
  const what = `model \`${model.name}\`'s \`similarity ${model.similarity.kind}\``;
  if (map.inputs !== D) {
    throw inputError(
      file,
      `the fit maps vectors of D = ${map.inputs} but the memories have D = ${D}`,
      "fit again on these memories (leave out --fit, add --save-fit F.npz)",
    );
  }
  if (map.weight.length !== map.outputs * map.inputs) {
    throw inputError(file, `W holds ${map.weight.length} numbers, want ${map.outputs} x ${D}`);
  }
  for (const key of Object.keys(want) as (keyof FitSettings)[]) {
    const got = (fit.settings as unknown as Record<string, unknown>)?.[key];
    // Adam ignores the schedule and SGD the batch size: those need not match.
    if (key === "schedule" && want.optimizer === "adam") continue;
    if (key === "batch" && want.optimizer === "sgd") continue;
    const same = typeof want[key] === "number"
      ? typeof got === "number" && Math.abs(got - (want[key] as number)) <=
          1e-12 * Math.abs(want[key] as number)
      : got === want[key];
    if (!same) {
      throw inputError(
        file,
        `the fit does not match ${what}: its ${key} is ${JSON.stringify(got)}, the model's is ${
          JSON.stringify(want[key])
        }${ARG_OF[key] ? ` (from ${ARG_OF[key]})` : ""}`,
        "fit again with this model (leave out --fit, add --save-fit F.npz), or give the fit saved for it",
      );
    }
  }
  if (map.outputs !== want.outputs) {
    throw inputError(file, `W has ${map.outputs} rows, the model wants ${want.outputs} features`);
  }
  if ((map.bias !== null) !== want.bias) {
    throw inputError(file, want.bias ? "the fit has no bias b" : "the fit has a bias b, uhop none");
  }
  const bad = [...map.weight, ...(map.bias ?? [])].findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw inputError(file, `the fit's W or b holds a non-finite number (entry ${bad})`);
}

/** The features phi(x_i) of the rows of X (M x F), for the reference's scores. */
export function featureRows(fit: MapFit, X: Mat): Mat {
  const { map } = fit.result;
  return { rows: X.rows, cols: map.outputs, data: applyMap(map, X.data, X.rows) };
}

/** The settings an A-Hop fit of `model` on memories of dimension D is made with. */
export function ahopSettings(model: Model, spec: AhopSpec, D: number): AhopFitSettings {
  return {
    corrupt: spec.corrupt,
    level: spec.level,
    samples: spec.samples,
    epochs: spec.epochs,
    lr: spec.lr,
    scales: spec.scales,
    seed: spec.seed,
    beta: model.beta,
    D,
  };
}

/**
 * A-Hop's fit (src/fit/ahop.ts) on the prepared memories: `samples` context samples per memory,
 * corrupted from `seed`, the cross-entropy with the model's beta; or a saved fit, checked.
 */
function ahopFit(
  model: Model,
  spec: AhopSpec,
  X: Mat,
  opts: ModelFitOptions,
  file: string,
): AhopFit {
  const D = X.cols, M = X.rows;
  const want = ahopSettings(model, spec, D);
  if (opts.fit) {
    const fit = opts.fit;
    if (!isAhopFit(fit)) {
      throw inputError(
        file,
        `the fit is a feature map W (uhop or kernelized) but model \`${model.name}\`'s similarity is \`ahop\``,
        "fit again with this model (leave out --fit, add --save-fit F.npz), or give the fit saved for it",
      );
    }
    if (fit.params.w.length !== D || fit.settings?.D !== D) {
      throw inputError(
        file,
        `the fit weighs D = ${fit.params.w.length} footprint scales but the memories have D = ${D}`,
        "fit again on these memories (leave out --fit, add --save-fit F.npz)",
      );
    }
    for (const key of Object.keys(want) as (keyof AhopFitSettings)[]) {
      const got = (fit.settings as unknown as Record<string, unknown>)[key];
      const w = want[key];
      const same = typeof w === "number"
        ? typeof got === "number" && Math.abs(got - w) <= 1e-12 * Math.abs(w)
        : got === w;
      if (!same) {
        throw inputError(
          file,
          `the fit does not match model \`${model.name}\`'s \`similarity ahop\`: its ${key} is ${
            JSON.stringify(got)
          }, the model's is ${JSON.stringify(w)}${key === "beta" ? " (the model's beta)" : ""}`,
          "fit again with this model (leave out --fit, add --save-fit F.npz), or give the fit saved for it",
        );
      }
    }
    const bad = [...fit.params.w, fit.params.a, fit.params.b].findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw inputError(file, `the fit's w, a or b holds a non-finite number (entry ${bad})`);
    }
    return fit;
  }
  if (M < 2) {
    throw modelError(
      model,
      "similarity",
      `\`similarity ahop\` fits its footprint weights to tell the memories apart and needs at least 2, got M = ${M}`,
      "store at least two memories, or give a saved fit (--fit F.npz; library: { fit })",
    );
  }
  const context = contextSamples(
    X.data,
    M,
    D,
    [{ kind: spec.corrupt, level: spec.level }],
    spec.samples * M,
    spec.seed,
  );
  const scales = spec.scales === "geometric" ? geometricScales(D) : undefined;
  let result;
  try {
    result = fitAhop(
      X.data,
      M,
      D,
      context,
      { epochs: spec.epochs, lr: spec.lr, beta: model.beta, seed: spec.seed, scales },
      opts.onProgress
        ? (p) => opts.onProgress!({ epoch: p.epoch, epochs: p.epochs, loss: p.loss })
        : undefined,
    );
  } catch (e) {
    if (e instanceof RangeError) {
      throw modelError(
        model,
        "similarity",
        e.message,
        "lower `samples`, store fewer memories, or use `scales = geometric`",
      );
    }
    throw e;
  }
  return { kind: "ahop", settings: want, params: result.params, losses: result.losses, fitted: M };
}
