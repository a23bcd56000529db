// tanh post-transform (MATH.md §2.3, §2.6): the map of the β-scaled binary entropy on [−1, 1]^D.
//
//   forward    q⁺ = tanh(β z)
//   energy     Ψ(q) = β⁻¹ Σ_i [ (1+q_i)/2 ln((1+q_i)/2) + (1−q_i)/2 ln((1−q_i)/2) ]  (0 ln 0 = 0;
//              +∞ outside [−1, 1]); ∇Ψ(q) = β⁻¹ artanh(q), so ∇Ψ* = tanh(β ·)
//   inputs     memories and queries are used as given
import type { PostPart } from "../types.ts";
import { f32 } from "../../wgsl/types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const tanhSignature = signature("tanh");
type Tanh = SpecOf<typeof tanhSignature>;

function xlogx(x: number): number {
  return x > 0 ? x * Math.log(x) : 0;
}

export const tanh: PostPart<Tanh> = {
  kind: "tanh",
  signature: tanhSignature,
  math: "q = tanh(β z)  (Ψ = β⁻¹ Σ binary negentropy of (1 ± q)/2)",
  transformsInputs: false,
  reference: (z, _spec, beta) => z.map((v) => Math.tanh(beta * v)),
  energy: (q, _spec, beta) => {
    let s = 0;
    for (const v of q) {
      if (!(v >= -1 && v <= 1)) return Infinity;
      s += xlogx((1 + v) / 2) + xlogx((1 - v) / 2);
    }
    return s / beta;
  },
  // WGSL's tanh is only as accurate as (e^x - e^-x) / (e^x + e^-x) (an absolute error, ~1e-2
  // relative at 1e-6 on Mesa), so small arguments take the odd series to x^7 (relative error
  // below 4e-8 for |y| < 0.125) and the builtin takes the rest.
  // Past |beta v| = 20 tanh is 1 in f32: v is clamped there first, so a huge readout (a
  // separation's, up to F32_MAX) cannot make beta v overflow.
  wgsl: (_spec, beta) => {
    const reach = f32(Math.min(20 / beta, 1e38));
    const y = `(${f32(beta)} * clamp(v, vec4<f32>(-${reach}), vec4<f32>(${reach})))`;
    return {
      math: `q = tanh(beta z), beta = ${beta}`,
      transformsInputs: false,
      needs: [],
      chunk: `select(tanh(${y}), ${y} * (1.0 + ${y} * ${y} * (-0.33333334 + ${y} * ${y} * ` +
        `(0.13333334 - 0.053968254 * ${y} * ${y}))), abs(${y}) < vec4<f32>(0.125))`,
    };
  },
};
