// separation `poly(n)`: p_i = s_i^n (HFYN "10-Poly DAM", MATH.md 2.6; Krotov–Hopfield F(x) = x^n,
// MATH.md 7.8).
//
//   forward    p_i = s_i^n, the real power, as HFYN's `_5_poly` / `_10_poly` compute it
//              (`tensor**5`, `tensor**10` in scripts/utils.py): even n makes negative scores
//              positive, odd n keeps their sign (no rectification, unlike Krotov–Hopfield's
//              rectified-polynomial variant)
//   normalize  sum: p_i = (s_i/m)^n / Σ_j (s_j/m)^n with m = max_j |s_j|, which equals s_i^n / Σ s_j^n
//              exactly but never overflows (all zero when the sum is 0, e.g. all scores 0)
//   overflow   raw: s^n is clamped to ±F32_MAX (the authors' float32 code returns inf there,
//              e.g. (x·q)^10 at D = 12288, MATH.md 2.6)
//   energy     Krotov–Hopfield E(q) = −Σ_i F(s_i) = −Σ_i s_i^n (clamped as the weights)
import type { SeparationPart } from "../types.ts";
import { clampF32, maxAbs, NORMALIZE, powerWgsl, sumNormalize } from "./common.ts";
import { f32 } from "../../wgsl/types.ts";
import { number, signature, type SpecOf, whole } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const polySignature = signature(
  "poly",
  { n: number(whole(1)), normalize: NORMALIZE },
  "poly(n = 10)",
);
export type PolySeparation = SpecOf<typeof polySignature>;

export const polySeparation: SeparationPart<PolySeparation> = {
  kind: "poly",
  signature: polySignature,
  math: "p = sⁿ  (Krotov–Hopfield F(x) = xⁿ; no β)",
  reference: (s, spec) => {
    if (spec.normalize === "sum") {
      const m = maxAbs(s);
      if (m === 0) return new Float64Array(s.length);
      return sumNormalize(s.map((v) => (Number.isFinite(v) ? (v / m) ** spec.n : 0)));
    }
    return s.map((v) => (Number.isFinite(v) ? clampF32(v ** spec.n) : 0));
  },
  energy: (s, spec) => {
    let e = 0;
    for (const v of s) if (Number.isFinite(v)) e += clampF32(v ** spec.n);
    return -e;
  },
  // raw: |s|^n overflows f32 exactly when n log2|s| >= 128, so past 127.999 the weight is the
  // clamp (sign kept for odd n) and below it the product cannot overflow. sum: (s / m)^n with
  // m = max |s| lies in [-1, 1].
  wgsl: (spec) => {
    const n = spec.n;
    const big = n % 2 === 0 ? "F32_MAX" : "sign(s) * F32_MAX";
    return {
      math: spec.normalize === "sum"
        ? `p = s^${n} / sum(s^${n})  (as (s/m)^${n}, m = max |s|)`
        : `p = s^${n}, clamped to +-F32_MAX`,
      stat: spec.normalize === "sum" ? "max_abs" : "none",
      weight: spec.normalize === "sum"
        ? "sep_power(s / m)"
        : `select(sep_power(s), ${big}, abs(s) > 1.0 && ${f32(n)} * log2(abs(s)) >= 127.999)`,
      normalize: spec.normalize === "sum",
      functions: powerWgsl(n),
    };
  },
};
