// Compiler pass: a continuous memory with box basis functions and exact quadrature is exactly a
// discrete memory over its N coefficient rows (MATH.md 4.2):
//
//   b_n = (sum of the memories in bin n) / (c_n + ridge)          (the ridge fit, pooled)
//   bin masses = alpha-entmax(N^(1-alpha) s) for tsallis/sparsemax, softmax(s) for shannon
//   q+ = post(B^T masses)
//
// so the GPU runs the discrete kernel on B with beta scaled by N^(1-alpha). Gaussian bases and
// the trapezoid rule keep the quadrature form (the quadrature kernel, src/wgsl/projected.ts).
import type { Model } from "../ir.ts";
import { type ContinuousMemory, usesPooledForm } from "../reference/continuous.ts";

export interface PooledLowering {
  /** The equivalent discrete model over the N pooled rows. */
  model: Model;
  spec: ContinuousMemory;
  /** beta of the discrete model divided by the continuous model's beta: N^(1 - alpha). */
  betaScale: number;
}

export function poolContinuous(model: Model): PooledLowering | null {
  if (model.memory.kind !== "continuous" || !usesPooledForm(model.memory)) return null;
  const N = model.memory.functions;
  const alpha = model.entropy.kind === "tsallis"
    ? model.entropy.alpha
    : model.entropy.kind === "sparsemax"
    ? 2
    : 1;
  const betaScale = Math.pow(N, 1 - alpha);
  return {
    model: { ...model, memory: { kind: "discrete" }, beta: model.beta * betaScale },
    spec: model.memory,
    betaScale,
  };
}
