// features(map, count, seed): linear / random-feature retrieval (MATH.md §5.2; NPH's
// LinearHopfieldCore and FastAttention). It replaces "scores + normalizer" by a kernel-normalized
// update, so there is no per-memory score and the entropy is always shannon:
//
//   q⁺ = Σ_i φ(q)ᵀφ(x_i) x_i / (Σ_i φ(q)ᵀφ(x_i) + 1e-6) = KVᵀφ(q) / (ksumᵀφ(q) + 1e-6)
//        with KV = Σ_i φ(x_i) x_iᵀ (F×D) and ksum = Σ_i φ(x_i) (F), both computed once.
//
// Feature maps, with x̃ = sqrt(β)·x (in place of the code's D^{-1/4}·x, so that β is the inverse
// temperature of the kernel: for `positive`, E_W[φ(x)ᵀφ(q)] = exp(β xᵀq), the softmax kernel):
//   positive  φ(x) = F^{-1/2} exp(W x̃ − ‖x̃‖²/2)   (positive random features, Performer's PRF;
//             the code's "+1e-4" inside is dropped: it biases the kernel estimate)
//   relu      φ(x) = ReLU(W x̃) + 1e-3             (FAVOR with the relu kernel, as the code)
//   elu       φ(x) = elu(x̃) + 1, F = D, no W       (linear attention, as the code)
// W (F×D) is Gaussian-orthogonal: blocks of D rows, each block the Gram–Schmidt orthonormalization
// of a Gaussian D×D matrix, each row then scaled by the norm of an independent Gaussian D-vector
// (a χ_D draw), so every row is marginally N(0, I_D) and the rows of a block are orthogonal.
// Draws come from the counter RNG (../rng.ts): row r's direction entry j is gaussian(seed, 2r, j),
// its norm vector entry j is gaussian(seed, 2r + 1, j).
//
// Stabilization (positive map only; relu and elu need none), exact in real arithmetic:
// write φ(x) = F^{-1/2} exp(a(x)) with a(x) = W x̃ − ‖x̃‖²/2. The keys use one global shift
// c_k = max over all keys and features of a, the query a per-query shift c_q = max_f a(q)_f:
// φ̂(x_i) = φ(x_i)e^{−c_k}, φ̂(q) = φ(q)e^{−c_q}. Then φ(q)ᵀφ(x_i) = e^{c_k+c_q} φ̂(q)ᵀφ̂(x_i), and
//   q⁺ = KV̂ᵀφ̂(q) / (k̂sumᵀφ̂(q) + 1e-6·e^{−(c_k+c_q)}),
// i.e. the 1e-6 is rescaled with the features, so the result is the unstabilized formula exactly
// (a plain per-vector max subtraction with an unscaled 1e-6 would change the math). A per-KEY
// shift would not cancel at all (it reweights memories), which is why keys share one c_k; it is
// kept current while streaming over the keys by rescaling the running sums (online max).
import type { Mat, SimilarityPart } from "../types.ts";
import {
  buildKernelState,
  featureCount,
  featureMatrix,
  features,
  KERNEL_EPS,
  type KernelState,
  phi,
} from "../../runtime/hopc_host.ts";

// W, the feature maps and the KV / ksum build are shared with the runtime's host preparation (one
// implementation, self-contained so generated modules carry it).
export {
  buildKernelState,
  featureCount,
  featureMatrix,
  KERNEL_EPS,
  type KernelState,
  phi,
  RELU_FLOOR,
} from "../../runtime/hopc_host.ts";
import { number, oneOf, seed, signature, type SpecOf, whole } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const featuresSignature = signature("features", {
  map: oneOf(["positive", "elu", "relu"], "positive"),
  count: number(whole(1), 256),
  seed: number(seed, 0),
});
type Features = SpecOf<typeof featuresSignature>;

/** The query's stabilized features and the rescaled ε of the denominator. */
function queryFeatures(state: KernelState, q: Float64Array, spec: Features, beta: number) {
  const { f, shift } = features(q, spec, state.W, beta, spec.map === "positive");
  // 1e-6 · e^{−(c_k + c_q)}: computed in log space; overflow to +∞ gives q⁺ = 0, the limit.
  const eps = Math.exp(Math.log(KERNEL_EPS) - state.keyShift - shift);
  return { f, eps };
}

/** One kernel-normalized update q⁺ = KVᵀφ(q) / (ksumᵀφ(q) + 1e-6) (exact under stabilization). */
export function kernelStep(
  state: KernelState,
  q: Float64Array,
  spec: Features,
  beta: number,
): Float64Array {
  const { f, eps } = queryFeatures(state, q, spec, beta);
  const { rows: F, cols: D, data: KV } = state.KV;
  const num = new Float64Array(D);
  let den = eps;
  for (let r = 0; r < F; r++) {
    const fr = f[r];
    den += state.ksum[r] * fr;
    const o = r * D;
    for (let j = 0; j < D; j++) num[j] += KV[o + j] * fr;
  }
  for (let j = 0; j < D; j++) num[j] /= den;
  return num;
}

/**
 * The stabilized features φ̂(x_i) = φ(x_i)·e^{−c_k} of every memory (M x F), computed once so that
 * per-query weights cost O(M F) instead of O(M F D).
 */
export function keyFeatureRows(state: KernelState, X: Mat, spec: Features, beta: number): Mat {
  const D = X.cols;
  const shifted = spec.map === "positive";
  const F = state.ksum.length;
  const rows = new Float64Array(X.rows * F);
  for (let i = 0; i < X.rows; i++) {
    const fx = features(X.data.subarray(i * D, (i + 1) * D), spec, state.W, beta, shifted);
    const scale = shifted ? Math.exp(fx.shift - state.keyShift) : 1;
    for (let r = 0; r < F; r++) rows[i * F + r] = fx.f[r] * scale;
  }
  return { rows: X.rows, cols: F, data: rows };
}

/**
 * The implied weight of each memory, w_i = φ(q)ᵀφ(x_i) / (Σ_j φ(q)ᵀφ(x_j) + 1e-6), so that
 * kernelStep(q) = Σ_i w_i x_i (for `--weights` and traces). Σ w_i < 1 because of the ε.
 * `keys` are the memories' rows from keyFeatureRows.
 */
export function kernelWeightsFrom(
  state: KernelState,
  keys: Mat,
  q: Float64Array,
  spec: Features,
  beta: number,
): Float64Array {
  const { f, eps } = queryFeatures(state, q, spec, beta);
  const F = keys.cols;
  let den = eps;
  for (let r = 0; r < F; r++) den += state.ksum[r] * f[r];
  const w = new Float64Array(keys.rows);
  for (let i = 0; i < keys.rows; i++) {
    let s = 0;
    for (let r = 0; r < F; r++) s += keys.data[i * F + r] * f[r];
    w[i] = s / den;
  }
  return w;
}

/** kernelWeightsFrom with the memories' features computed here (one-off use). */
export function kernelWeights(
  state: KernelState,
  X: Mat,
  q: Float64Array,
  spec: Features,
  beta: number,
): Float64Array {
  return kernelWeightsFrom(state, keyFeatureRows(state, X, spec, beta), q, spec, beta);
}

/** The part: it has no per-memory score, so `reference` refuses (use kernelStep instead). */
export const featuresPart: SimilarityPart<Features> & {
  featureCount: typeof featureCount;
  featureMatrix: typeof featureMatrix;
  phi: typeof phi;
  buildKernelState: typeof buildKernelState;
  kernelStep: typeof kernelStep;
  kernelWeights: typeof kernelWeights;
} = {
  kind: "features",
  signature: featuresSignature,
  math: "q = Σ_i φ(q)ᵀφ(x_i) x_i / (Σ_i φ(q)ᵀφ(x_i) + 1e-6),  E[φ(x)ᵀφ(q)] = exp(β xᵀq) (positive)",
  reference: () => {
    throw new Error(
      "features similarity has no per-memory score: it replaces scores + normalizer; " +
        "use buildKernelState and kernelStep (src/parts/similarity/features.ts)",
    );
  },
  featureCount,
  featureMatrix,
  phi,
  buildKernelState,
  kernelStep,
  kernelWeights,
  wgsl: () => {
    throw new Error("features similarity has no score-kernel lowering: it uses kernel retrieval");
  },
};
