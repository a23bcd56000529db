// layernorm(eps): LayerNorm without affine parameters (MATH.md §2.3; torch.nn.LayerNorm with
// elementwise_affine=False, as the HFYN update uses it).
//
//   forward    q⁺ = (z − mean z) / sqrt(mean((z − mean z)²) + eps)   (biased variance)
//              so mean q⁺ = 0 and ‖q⁺‖² = D·var/(var + eps)
//   energy     Ψ(q) = −sqrt(D·eps·(D − ‖q‖²)) on {1ᵀq = 0, ‖q‖² ≤ D} (+∞ elsewhere) [DERIVED]:
//              the update is ∇Ψ* with Ψ*(z) = sqrt(D·(‖Pz‖² + D·eps)), P the centring, so this Ψ
//              (its conjugate) makes the step a CCCP step and the energy non-increasing. As
//              eps → 0 it tends to the indicator of the LN set that MATH.md 2.3 states.
//   inputs     memories and queries are transformed first (MATH.md §2.2)
import type { PostPart } from "../types.ts";
import { f32 } from "../../wgsl/types.ts";
import { number, positive, signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const layernormSignature = signature("layernorm", { eps: number(positive, 1e-5) });
type LayerNorm = SpecOf<typeof layernormSignature>;

export const layernorm: PostPart<LayerNorm> = {
  kind: "layernorm",
  signature: layernormSignature,
  math: "q = (z − mean z) / sqrt(mean((z − mean z)²) + eps)  (Ψ = indicator of the LN set)",
  transformsInputs: true,
  reference: (z, spec) => {
    const d = z.length;
    const out = new Float64Array(d);
    if (d === 0) return out;
    let mean = 0;
    for (const v of z) mean += v;
    mean /= d;
    // Two passes: centre first, then the variance of the centred values (no E[z²] − mean²).
    let v2 = 0;
    for (let i = 0; i < d; i++) {
      out[i] = z[i] - mean;
      v2 += out[i] * out[i];
    }
    const c = 1 / Math.sqrt(v2 / d + spec.eps);
    for (let i = 0; i < d; i++) out[i] *= c;
    return out;
  },
  energy: (q, spec) => {
    const d = q.length;
    let sq = 0;
    for (const v of q) sq += v * v;
    return -Math.sqrt(d * spec.eps * Math.max(d - sq, 0));
  },
  wgsl: (spec) => ({
    math: `q = (z - mean) / sqrt(var + eps), eps = ${spec.eps}, biased variance, no affine`,
    transformsInputs: true,
    needs: ["mean_var"],
    chunk: `valid * (v - vec4<f32>(mean)) / sqrt(variance + ${f32(spec.eps)})`,
  }),
};
