// tanh post-transform (MATH.md §2.3, §2.6): the map of the β-scaled binary entropy on [−1, 1]^D.
//
//   forward    q⁺ = tanh(β z)
//   energy     Ψ(q) = β⁻¹ Σ_i [ (1+q_i)/2 ln((1+q_i)/2) + (1−q_i)/2 ln((1−q_i)/2) ]  (0 ln 0 = 0;
//              +∞ outside [−1, 1]); ∇Ψ(q) = β⁻¹ artanh(q), so ∇Ψ* = tanh(β ·)
//   inputs     memories and queries are used as given
import type { Post } from "../../ir.ts";
import type { PostPart } from "../types.ts";

type Tanh = Extract<Post, { kind: "tanh" }>;

function xlogx(x: number): number {
  return x > 0 ? x * Math.log(x) : 0;
}

export const tanh: PostPart<Tanh> = {
  kind: "tanh",
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
};
