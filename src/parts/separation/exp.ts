// separation `exp(scale)`: unnormalized p_i = exp(scale · s_i) (HFYN "Exp DAM", `_exp`:
// torch.exp(tensor * inner_beta), MATH.md 2.6, with
// scale = β_in = 0.05 on MNIST, 0.01 on CIFAR-10 / Tiny-ImageNet; Demircigil F = exp, MATH.md 7.8).
//
//   normalize  sum: p_i = exp(scale (s_i − max s)) / Σ_j exp(scale (s_j − max s)) (softmax of
//              scale · s; the sum is ≥ 1, never 0)
//   overflow   raw: exp is clamped to F32_MAX (the authors' float32 code returns inf above
//              scale · s ≈ 88.7, e.g. exp(0.01 s) at D = 12288)
//   energy     E(q) = −Σ_i exp(scale s_i) (clamped as the weights)
import type { SeparationPart } from "../types.ts";
import { clampF32, NORMALIZE, sumNormalize } from "./common.ts";
import { f32 } from "../../wgsl/types.ts";
import { number, positive, signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const expSignature = signature("exp", { scale: number(positive, 1), normalize: NORMALIZE });
export type ExpSeparation = SpecOf<typeof expSignature>;

export const expSeparation: SeparationPart<ExpSeparation> = {
  kind: "exp",
  signature: expSignature,
  math: "p = exp(scale · s)  (Exp DAM; no β)",
  reference: (s, spec) => {
    if (spec.normalize === "sum") {
      let max = -Infinity;
      for (const v of s) if (v > max) max = v;
      if (max === -Infinity) return new Float64Array(s.length);
      return sumNormalize(
        s.map((v) => (Number.isFinite(v) ? Math.exp(spec.scale * (v - max)) : 0)),
      );
    }
    return s.map((v) => (Number.isFinite(v) ? clampF32(Math.exp(spec.scale * v)) : 0));
  },
  energy: (s, spec) => {
    let e = 0;
    for (const v of s) if (Number.isFinite(v)) e += clampF32(Math.exp(spec.scale * v));
    return -e;
  },
  // raw: exp overflows f32 past 88.72 (ln F32_MAX = 88.7228), where the weight is the clamp.
  // sum: exp(scale (s - m)) with m the row max, at most 1.
  wgsl: (spec) => {
    const scaled = (v: string) => `${f32(spec.scale)} * ${v}`;
    return {
      math: spec.normalize === "sum"
        ? `p = softmax(${spec.scale} s)`
        : `p = exp(${spec.scale} s), clamped to F32_MAX`,
      stat: spec.normalize === "sum" ? "max" : "none",
      weight: spec.normalize === "sum"
        ? `exp(${scaled("(s - m)")})`
        : `select(exp(${scaled("s")}), F32_MAX, ${scaled("s")} >= 88.72)`,
      normalize: spec.normalize === "sum",
      functions: "",
    };
  },
};
