// The model's math as data for the query-blocked kernels (src/runtime/blocked/): each part's
// WGSL lowering from the part registry, plus the model-level choices. Runs at compile time; the
// runtime assembles the WGSL from this and the plan it makes at load.
import { describe, type Model } from "../ir.ts";
import { RNG_WGSL } from "../parts/rng.ts";
import { isLearned } from "../parts/similarity/learned.ts";
import { isAhop } from "../parts/similarity/ahop.ts";
import { poolContinuous } from "../plan/continuous_pass.ts";
import type { BlockedParts, ProjectedParts } from "../runtime/blocked/types.ts";
import {
  entropyWgsl,
  f32,
  maskWgsl,
  postWgsl,
  separationWgsl,
  similarityWgsl,
} from "./lowerings.ts";
import { kernelChoices, stepsLine } from "../plan/choices.ts";
import { KERNEL_EPS, RELU_FLOOR } from "../parts/similarity/features.ts";
import { GAUSSIAN_REACH } from "../reference/continuous.ts";

/** The blocked kernels' view of a model, or null for one without a GPU lowering. */
export function blockedParts(model: Model): BlockedParts | null {
  const choices = kernelChoices(model);
  if (choices.family === "features" || choices.family === "quadrature") {
    return projectedParts(model);
  }
  const pooled = poolContinuous(model);
  const scored = pooled?.model ?? model; // the pooled pass scales beta by N^(1 - alpha)
  const sim = similarityWgsl(model.similarity);
  // A separation function replaces the normalizer and reads the scores without beta (HFYN puts
  // beta only in the tanh post, MATH.md 2.6).
  const separation = separationWgsl(model.separation);
  const ent = separation
    ? { kind: "separation" as const, ...separation }
    : entropyWgsl(model.entropy);
  const beta = separation ? 1 : scored.beta;
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
    separation
      ? `  scores  = similarity(X, q)            no beta (separation ${model.separation.kind}); ${sim.math}`
      : `  scores  = beta * similarity(X, q)     beta = ${scored.beta}; ${sim.math}`,
    ...(isAhop(model.similarity)
      ? [
        `            by the footprint pass: one workgroup per (query, memory row) sorts the pair's`,
        `            u_d = -(x_d - q_d)^2 and v_d = x_d q_d in workgroup memory (bitonic), then`,
        `            s = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r, Omega the suffix sums of the`,
        `            footprint weights w (host aux, from the fit at load)`,
      ]
      : []),
    ...(isLearned(model.similarity)
      ? [
        `            the key rows K and their host aux c, from the map fitted at load (float64, on`,
        `            the host), replace X in the scores; the readout reads the memories`,
      ]
      : []),
    ...(mask.kind !== "none" ? [`  mask    = ${mask.math}`] : []),
    `  weights = ${ent.math}`,
    ...(model.readout?.kind === "project"
      ? [
        `  q       = post(R^T weights)           ${post.math}; readout ${describe(model.readout)}:`,
        `            R = a X + h H^T X - c mean(X), H = D^-1/2 A D^-1/2 of the memory graph,`,
        `            computed on the host at load and stored after each chunk's key rows`,
      ]
      : [`  q       = post(X^T weights)           ${post.math}`]),
    ...((model.relax ?? 1) !== 1
      ? [`  q       = q_prev + ${model.relax} (q - q_prev)   relax: the Euler step (MATH.md 7.7)`]
      : []),
    `  steps   = ${stepsLine(model)}`,
  ];
  return {
    name: model.name,
    file: model.source.file,
    header,
    beta,
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
    projected: null,
    ...readoutAndRelax(model),
    ...(isAhop(model.similarity) ? { footprint: true } : {}),
  };
}

/**
 * The features and quadrature families: the score pass computes projections of the state (beta
 * 1, the part's own scaling in `finish`), the per-query pass the weights (./wgsl_projected.ts).
 */
function projectedParts(model: Model): BlockedParts | null {
  const choices = kernelChoices(model);
  const post = postWgsl(model.post, model.beta);
  const ent = entropyWgsl(model.entropy);
  const steps = stepsLine(model);
  let projected: ProjectedParts;
  let sim: BlockedParts["sim"];
  let header: string[];
  if (model.similarity.kind === "features") {
    const { map, count, seed } = model.similarity;
    const sqrtBeta = f32(Math.sqrt(model.beta));
    projected = { kind: "features", map, logEps: Math.log(KERNEL_EPS), reluFloor: RELU_FLOOR };
    sim = {
      math: map === "elu" ? "a = sqrt(beta) q" : "a = sqrt(beta) W q",
      memoryAux: "none",
      queryAux: map === "positive" ? "half_sq_norm" : "none",
      linear: true,
      accumulate: "dot(x, q)",
      finish: map === "positive"
        ? `${sqrtBeta} * acc - ${f32(model.beta)} * query_aux`
        : `${sqrtBeta} * acc`,
    };
    header = [
      `  features retrieval (MATH.md 5.2), map = ${map}, ${
        map === "elu" ? "F = D (W = I)" : `F = ${count}, seed = ${seed}`
      }`,
      `  q       = post( KV^T phi(q) / (ksum^T phi(q) + 1e-6) )     ${post.math}`,
      `  steps   = ${steps}`,
      ``,
      `The memory holds W (F rows) then KV (F rows), memory_aux holds ksum (F) and the keys' shift`,
      `c_k, all built once per load on the host: a step costs O(F D) per query whatever the number of`,
      `memories. Positive features are stabilized exactly: phi(q) is divided by e^{c_q} with c_q its`,
      `largest exponent, and the 1e-6 is rescaled by e^{-(c_k + c_q)} to match (see features.ts).`,
    ];
  } else {
    if (model.memory.kind !== "continuous") throw new Error("unreachable: quadrature family");
    const mem = model.memory;
    const real = similarityWgsl(model.similarity);
    if (!real.linear) return null; // the scores at the points need x(t_j) . q = psi(t_j) . r
    const N = mem.functions, P = mem.points;
    const gaussian = mem.basis === "gaussian";
    const reach = gaussian ? GAUSSIAN_REACH * mem.width : 0;
    const alpha = model.entropy.kind === "tsallis" ? model.entropy.alpha : 2;
    projected = {
      kind: "quadrature",
      basis: mem.basis,
      N,
      P,
      width: mem.width,
      reach,
      basisPerPoint: gaussian ? Math.min(N, Math.floor(2 * reach * N) + 2) : 1,
      pointsPerBasis: gaussian
        ? Math.min(P, Math.floor(2 * reach * (P - 1)) + 2)
        : Math.ceil((P - 1) / N) + 2,
      beta: model.beta,
      finish: real.finish,
      // mass(tau) = sum_j w_j [x_j - tau]_+^(1/(alpha-1)) falls in tau; at tau = 0 it is 0 (the
      // top point has x = 0), and at -(1/w_min)^(alpha-1) the top point alone carries >= 1.
      density: ent.kind === "exp" ? { kind: "exp" } : {
        kind: "threshold",
        lo: -Math.pow(2 * (P - 1), alpha - 1),
        iterations: choices.bisectionIterations,
      },
    };
    sim = {
      math: "r = B q",
      memoryAux: "none",
      queryAux: real.queryAux,
      linear: true,
      accumulate: "dot(x, q)",
      finish: "acc",
    };
    header = [
      `  continuous memory (MATH.md 4): ${N} ${mem.basis} basis functions${
        gaussian ? ` of width ${mem.width}` : ""
      }, coefficients B (N x D)`,
      `  r       = B q;  s_j = beta * similarity(x(t_j), q) at t_j = j / ${P - 1}   ${real.math}`,
      `  density = ${ent.math}   (over t, trapezoid rule)`,
      `  q       = post(B^T E_p[psi])                                  ${post.math}`,
      `  steps   = ${steps}`,
      ``,
      `The coefficients B are fitted once per load on the host (float64 ridge regression); psi_n(t_j)`,
      `is computed where it is needed${
        gaussian ? `, only for the basis functions within ${GAUSSIAN_REACH} widths of t_j` : ""
      }.`,
    ];
  }
  return {
    name: model.name,
    file: model.source.file,
    header,
    beta: 1,
    maxSteps: model.steps.kind === "fixed" ? model.steps.count : model.steps.max,
    tol: model.steps.kind === "until" ? model.steps.tol : null,
    family: choices.family,
    sim,
    ent,
    bisection: 0,
    post: {
      math: post.math,
      transformsInputs: post.transformsInputs,
      needs: post.needs,
      chunk: post.chunk,
    },
    mask: { kind: "none" },
    rngWgsl: "",
    projected,
    ...readoutAndRelax(model),
  };
}

/** The readout rows and the relax rate, stated only where they differ from the plain update. */
function readoutAndRelax(model: Model): Pick<BlockedParts, "readout" | "relax"> {
  return {
    // A learned similarity scores its key rows K_i = W^T phi(x_i) and reads out the memories.
    ...((model.readout?.kind ?? "keys") !== "keys" || isLearned(model.similarity)
      ? { readout: "rows" as const }
      : {}),
    ...((model.relax ?? 1) !== 1 ? { relax: model.relax } : {}),
  };
}
