// The model's math as data for the query-blocked kernels (src/runtime/blocked/): each part's
// WGSL lowering from the part registry, plus the model-level choices. Runs at compile time; the
// runtime assembles the WGSL from this and the plan it makes at load.
import type { Model } from "../ir.ts";
import { RNG_WGSL } from "../parts/rng.ts";
import { poolContinuous } from "../plan/continuous_pass.ts";
import type { BlockedParts } from "../runtime/blocked/types.ts";
import { entropyWgsl, maskWgsl, postWgsl, similarityWgsl } from "./lowerings.ts";
import { kernelChoices, stepsLine } from "../plan/choices.ts";

/** The blocked kernels' view of a model, or null for the features and quadrature families. */
export function blockedParts(model: Model): BlockedParts | null {
  const choices = kernelChoices(model);
  if (choices.family !== "online" && choices.family !== "threshold") return null;
  const pooled = poolContinuous(model);
  const scored = pooled?.model ?? model; // the pooled pass scales beta by N^(1 - alpha)
  const sim = similarityWgsl(model.similarity);
  const ent = entropyWgsl(model.entropy);
  const mask = maskWgsl(model.mask);
  const post = postWgsl(model.post, model.beta); // tanh(beta z) keeps the model's beta
  const header = [
    ...(pooled
      ? [
        `continuous memory, box basis, exact quadrature: the compiler's pooled pass (MATH.md 4.2)`,
        `makes it a discrete memory over the ${pooled.spec.functions} rows b_n = sum_bin x / (c_n + ${pooled.spec.ridge}),`,
        `fitted once per load on the host, with beta scaled by N^(1 - alpha) = ${pooled.betaScale}.`,
        ``,
      ]
      : []),
    `  scores  = beta * similarity(X, q)     beta = ${scored.beta}; ${sim.math}`,
    ...(mask.kind !== "none" ? [`  mask    = ${mask.math}`] : []),
    `  weights = ${ent.math}`,
    `  q       = post(X^T weights)           ${post.math}`,
    `  steps   = ${stepsLine(model)}`,
  ];
  return {
    name: model.name,
    file: model.source.file,
    header,
    beta: scored.beta,
    maxSteps: model.steps.kind === "fixed" ? model.steps.count : model.steps.max,
    tol: model.steps.kind === "until" ? model.steps.tol : null,
    family: choices.family,
    sim: {
      math: sim.math,
      memoryAux: sim.memoryAux,
      queryAux: sim.queryAux,
      linear: sim.linear,
      accumulate: sim.accumulate,
      finish: sim.finish,
    },
    ent,
    bisection: choices.bisectionIterations,
    post: {
      math: post.math,
      transformsInputs: post.transformsInputs,
      needs: post.needs,
      chunk: post.chunk,
    },
    mask,
    rngWgsl: mask.kind === "random" ? RNG_WGSL : "",
  };
}
