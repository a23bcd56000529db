// A-Hop's adaptive similarity (Wang et al., ICLR 2026; MATH.md 7.6; issue 12 item 3):
//
//   similarity ahop(corrupt, level, samples, epochs, lr, scales, seed)
//
// s(xi, x) = a w^T F^dist(xi, x) + b w^T F^prod(xi, x), the footprints F sorted per-dimension
// distances -(xi_d - x_d)^2 and products xi_d x_d summed cumulatively (src/fit/ahop.ts). w, a and
// b are fitted once per load in float64 on the host, on `samples` context samples per memory (each
// a copy of its memory corrupted by `corrupt` at `level`, drawn from `seed`), by full-batch Adam
// (lr, epochs) on the cross-entropy of softmax(beta s(X, x)) against the sample's own memory,
// with the model's beta. `scales = geometric` learns weights only at ~2 log2 D footprint scales
// (the others are 0), so the fit keeps D / (2 log2 D) times fewer numbers per pair.
//
// What comes from public summaries rather than the paper (its text and code were not available):
// the mixing of the two footprints by learned scalars a and b, the initial w = 1/K, a = 1, b = 0,
// the corruption families, the cross-entropy over all memories with the model's beta (README).
//
// The GPU scores with the footprint pass of the blocked kernels (src/runtime/blocked/
// wgsl_footprint.ts): one workgroup per (query, memory row) sorts the pair's D values in
// workgroup memory and weighs them by the suffix sums Omega_r = sum_{k >= r} w_k, which the host
// computes at load from the fit.
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

const finite: NumberRule = {
  need: "must be a finite number (its range depends on `corrupt`)",
  test: (v) => Number.isFinite(v),
  // 0 < level < 1 is in range for every corruption.
  always: (v) => v > 0 && v < 1,
};

/** A-Hop's similarity; defaults from issue 12 (Adam lr 0.1, 200 epochs). */
export const ahopSignature = signature("ahop", {
  corrupt: oneOf(["mask", "dropout", "noise", "bias"], "mask"),
  level: number(finite, 0.5),
  samples: number(whole(1), 2),
  epochs: number(whole(1), 200),
  lr: number(positive, 0.1),
  scales: oneOf(["all", "geometric"], "all"),
  seed: number(seed, 0),
});
export type AhopSpec = SpecOf<typeof ahopSignature>;

/**
 * Where `level` is out of range for `corrupt`: the message's end and a hint, or null when fine.
 * mask, dropout: a probability, 0 <= level < 1 (dropout divides by 1 - level); noise: the
 * standard deviation, level > 0; bias: any finite shift.
 */
export function levelProblem(corrupt: AhopSpec["corrupt"], level: number): {
  need: string;
  hint: string;
} | null {
  if (corrupt === "mask" || corrupt === "dropout") {
    return level >= 0 && level < 1 ? null : {
      need:
        `must be at least 0 and below 1 for \`corrupt = ${corrupt}\` (the share of entries zeroed)`,
      hint: "give the probability that an entry is zeroed, e.g. level = 0.5",
    };
  }
  if (corrupt === "noise") {
    return level > 0 ? null : {
      need: "must be positive for `corrupt = noise` (the noise's standard deviation)",
      hint: "give the standard deviation of the Gaussian noise added per entry, e.g. level = 0.1",
    };
  }
  return null;
}

export const ahop: SimilarityPart<AhopSpec> & { learned: true } = {
  kind: "ahop",
  signature: ahopSignature,
  math: "s_i = a w^T F^dist(x_i, q) + b w^T F^prod(x_i, q), w, a, b fitted at load (A-Hop)",
  learned: true,
  reference: () => {
    throw new Error(
      "A-Hop's similarity scores with its fitted footprint weights: bind the model to its memories " +
        "with loadReference (src/reference/interpreter.ts), which fits them or takes a saved fit",
    );
  },
  // The blocked kernels replace their score pass by the footprint pass for this similarity; the
  // snippets below are never called (the one-workgroup-per-query kernel refuses the model).
  wgsl: () => ({
    math:
      "s_i = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r, sorted per pair in workgroup memory",
    memoryAux: "none" as const,
    queryAux: "none" as const,
    linear: false,
    accumulate: "0.0",
    finish: "acc",
  }),
};

export function isAhop(spec: { kind: string }): spec is AhopSpec {
  return spec.kind === "ahop";
}
