// identity post-transform: Ψ(q) = ½‖q‖², ŷ_Ψ(z) = ∇Ψ*(z) = z (MATH.md §2.3).
//
//   forward    q⁺ = z
//   energy     Ψ(q) = ½‖q‖²   (so E(q) = −β⁻¹Ω*(βXq) + ½‖q‖², Ramsauer's energy for softmax)
//   inputs     memories and queries are used as given
import type { Post } from "../../ir.ts";
import type { PostPart } from "../types.ts";

type Identity = Extract<Post, { kind: "identity" }>;

export const identity: PostPart<Identity> = {
  kind: "identity",
  math: "q = z  (Ψ = ½‖q‖²)",
  transformsInputs: false,
  reference: (z) => Float64Array.from(z),
  energy: (q) => {
    let s = 0;
    for (const v of q) s += v * v;
    return s / 2;
  },
  wgsl: () => ({ math: "q = z", transformsInputs: false, needs: [], chunk: "v" }),
};
