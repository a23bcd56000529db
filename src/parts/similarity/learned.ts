// Learned similarities (issue 12): a linear feature map phi(x) = W x + b fitted to the memories
// at load (Stage I, src/fit/), then s_i = <phi(x_i), phi(q)> (Stage II, every step).
//
//   uhop(loss, epochs, lr, t, fraction, schedule, seed)   U-Hop (MATH.md 6.1): phi(x) = W x,
//       W in R^{D x D} drawn N(0, 1) (torch.randn(d, d)), no bias, full-batch SGD on the
//       uniformity loss (max: -t min |z_i - z_j|^2; mean: log mean exp(-t |z_i - z_j|^2)) over the
//       leading `fraction` of the memories. The defaults are the authors' max script (lr 10, 100
//       epochs, half the memories); their noise script is uhop(loss = mean, lr = 1,
//       schedule = inverse_sqrt, fraction = 1). U-Hop's code multiplies beta AFTER the
//       normalizer (w = beta softmax(s), so beta = 1 has no effect); hopc does not copy that:
//       beta multiplies the scores inside the normalizer, as for every hopc model.
//   kernelized(dim, epochs, lr, batch, tau, seed)         kernelized Hopfield (MATH.md 7.9):
//       phi = nn.Linear(D, dim) with Kaiming-normal W (std sqrt(2 / D)) and nn.Linear's bias
//       init, one epoch of Adam (lr 0.1, batches of 16) on the separation loss
//       (1/M) log mean_{i<j} exp(<z_i, z_j> / tau) over the pairs i < j only (the authors'
//       torch.triu also counts the exp(0) = 1 of every zeroed entry, which is not their stated
//       loss). Readout from the raw memories.
//
// The fit is float64 on the host, once per load, on the memories after the input post-transform,
// reproducible from `seed`. The GPU scores s_i = <phi(x_i), W q + b> = K_i . q + c_i with keys
// K_i = W^T phi(x_i) and biases c_i = phi(x_i) . b computed once at load (hopc_host.ts
// learnedKeys), so a step costs O(M D) as for dot.
import type { FitSettings } from "../../fit/fit.ts";
import type { SimilarityPart } from "../types.ts";
import {
  number,
  type NumberRule,
  oneOf,
  positive,
  seed,
  signature,
  type SpecOf,
  whole,
} from "../signature.ts";

const fraction: NumberRule = {
  need: "must be above 0 and at most 1 (the share of the memories the map is fitted on)",
  test: (v) => v > 0 && v <= 1,
};

/** U-Hop's similarity (MATH.md 6.1); defaults are the authors' max-loss script. */
export const uhopSignature = signature("uhop", {
  loss: oneOf(["max", "mean"], "max"),
  epochs: number(whole(1), 100),
  lr: number(positive, 10),
  t: number(positive, 2),
  fraction: number(fraction, 0.5),
  schedule: oneOf(["constant", "inverse_sqrt"], "constant"),
  seed: number(seed, 0),
});
type Uhop = SpecOf<typeof uhopSignature>;

/** The kernelized Hopfield model's similarity (MATH.md 7.9). */
export const kernelizedSignature = signature("kernelized", {
  dim: number(whole(1), 200),
  epochs: number(whole(1), 1),
  lr: number(positive, 0.1),
  batch: number(whole(2), 16),
  tau: number(positive, 0.1),
  seed: number(seed, 0),
});
type Kernelized = SpecOf<typeof kernelizedSignature>;

export type LearnedSpec = Uhop | Kernelized;

/** The fit settings of a learned similarity for memories of dimension D. */
export function fitSettings(spec: LearnedSpec, D: number): FitSettings {
  if (spec.kind === "uhop") {
    return {
      loss: spec.loss === "max" ? "uniform_max" : "uniform_mean",
      temperature: spec.t,
      epochs: spec.epochs,
      lr: spec.lr,
      optimizer: "sgd",
      schedule: spec.schedule,
      batch: 0,
      fraction: spec.fraction,
      outputs: D,
      bias: false,
      initStd: 1,
      seed: spec.seed,
    };
  }
  return {
    loss: "separation",
    temperature: spec.tau,
    epochs: spec.epochs,
    lr: spec.lr,
    optimizer: "adam",
    schedule: "constant",
    batch: spec.batch,
    fraction: 1,
    outputs: spec.dim,
    bias: true,
    initStd: Math.sqrt(2 / D),
    seed: spec.seed,
  };
}

function refuse(): never {
  throw new Error(
    "a learned similarity scores with its fitted map: bind the model to its memories with " +
      "loadReference (src/reference/interpreter.ts), which fits it or takes a saved fit",
  );
}

// The GPU's score: keys K_i = W^T phi(x_i) (the rows uploaded in place of the memories) dotted
// with the state, plus the host's per-memory bias c_i = phi(x_i) . b (0 for uhop).
const lowering = (math: string) => ({
  math,
  memoryAux: "host" as const,
  queryAux: "none" as const,
  linear: true,
  accumulate: "dot(x, q)",
  finish: "acc + mem_aux",
});

export const uhop: SimilarityPart<Uhop> & { learned: true } = {
  kind: "uhop",
  signature: uhopSignature,
  math: "s_i = <W x_i, W q>, W fitted at load (U-Hop uniformity loss)",
  learned: true,
  reference: refuse,
  wgsl: () => lowering("s_i = <W x_i, W q> = K_i . q, K_i = W^T W x_i (host, at load)"),
};

export const kernelized: SimilarityPart<Kernelized> & { learned: true } = {
  kind: "kernelized",
  signature: kernelizedSignature,
  math: "s_i = <W x_i + b, W q + b>, W, b fitted at load (separation loss)",
  learned: true,
  reference: refuse,
  wgsl: () =>
    lowering(
      "s_i = <phi(x_i), W q + b> = K_i . q + c_i, K_i = W^T phi(x_i), c_i = phi(x_i) . b (host, at load)",
    ),
};

/** The similarity is fitted to the memories at load. */
export function isLearned(spec: { kind: string }): spec is LearnedSpec {
  return spec.kind === "uhop" || spec.kind === "kernelized";
}
