// l2(radius): projection onto the sphere, Ψ = indicator of the ball ‖q‖₂ ≤ r (MATH.md §2.3).
//
//   forward    q⁺ = r z / ‖z‖₂   (the linear maximizer over the ball lies on its sphere);
//              z = 0 maps to 0 (every point of the ball is a maximizer; 0 is the choice here)
//   energy     Ψ(q) = 0: q is on the ball by construction (the indicator's value there)
//   inputs     memories and queries are projected first (MATH.md §2.2)
import type { PostPart } from "../types.ts";
import { f32 } from "../../wgsl/types.ts";
import { number, positive, signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const l2Signature = signature("l2", { radius: number(positive, 1) });
type L2 = SpecOf<typeof l2Signature>;

/** ‖z‖₂ scaled by the largest magnitude, so squares neither overflow nor underflow. */
export function norm2(z: Float64Array): number {
  let m = 0;
  for (const v of z) {
    const a = Math.abs(v);
    if (a > m) m = a;
  }
  if (m === 0) return 0;
  let s = 0;
  for (const v of z) {
    const t = v / m;
    s += t * t;
  }
  return m * Math.sqrt(s);
}

export const l2: PostPart<L2> = {
  kind: "l2",
  signature: l2Signature,
  math: "q = r z / ‖z‖₂  (Ψ = indicator of ‖q‖₂ ≤ r)",
  transformsInputs: true,
  reference: (z, spec) => {
    // Divide by the largest magnitude first: y = z/max|z| has norm in [1, √D], so neither the
    // squares nor r·y/‖y‖ can overflow or lose precision, even for subnormal z.
    let m = 0;
    for (const v of z) m = Math.max(m, Math.abs(v));
    const out = new Float64Array(z.length);
    if (m === 0) return out;
    let s = 0;
    for (let i = 0; i < z.length; i++) {
      out[i] = z[i] / m;
      s += out[i] * out[i];
    }
    const c = spec.radius / Math.sqrt(s);
    for (let i = 0; i < z.length; i++) out[i] *= c;
    return out;
  },
  energy: () => 0,
  wgsl: (spec) => ({
    math: `q = r z / |z|, r = ${spec.radius} (0 when z = 0)`,
    transformsInputs: true,
    needs: ["sq_norm"],
    chunk: `select(vec4<f32>(0.0), v * (${f32(spec.radius)} / sqrt(sq_norm)), sq_norm > 0.0)`,
  }),
};
