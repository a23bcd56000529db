// separation `linear` (UHN's identity separation): the classic Hopfield network (HFYN "Classic HNs", MATH.md 2.6; UHN 7.2).
//
//   forward    p_i = s_i (no beta: HFYN puts beta inside the tanh post only)
//   normalize  sum: p_i = s_i / Σ_j s_j (all zero when the sum is 0)
//   energy     classic HN with dot similarity: E(q) = −½ qᵀXᵀXq = −½ Σ_i s_i²
//   masked     entries at −Infinity get weight 0
import type { SeparationPart } from "../types.ts";
import { clampF32, NORMALIZE, sumNormalize } from "./common.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const linearSignature = signature("linear", { normalize: NORMALIZE });
export type LinearSeparation = SpecOf<typeof linearSignature>;

export const linearSeparation: SeparationPart<LinearSeparation> = {
  kind: "linear",
  signature: linearSignature,
  math: "p = s  (classic Hopfield; no β)",
  reference: (s, spec) => {
    const p = s.map((v) => (Number.isFinite(v) ? clampF32(v) : 0));
    return spec.normalize === "sum" ? sumNormalize(p) : p;
  },
  energy: (s) => {
    let e = 0;
    for (const v of s) if (Number.isFinite(v)) e += v * v;
    return -0.5 * e;
  },
  // With sum: (s_i / m) / Σ_j (s_j / m), m = max |s| (the same quotient; the sum cannot overflow).
  wgsl: (spec) => ({
    math: spec.normalize === "sum" ? "p = s / sum(s)  (classic HN, sum-normalized)" : "p = s",
    stat: spec.normalize === "sum" ? "max_abs" : "none",
    weight: spec.normalize === "sum" ? "s / m" : "s",
    normalize: spec.normalize === "sum",
    functions: "",
  }),
};
