// The contract of one math part. Each entropy, similarity, post-transform and mask is one small
// module that states its math next to its float64 reference (and, for the GPU path, its WGSL
// lowering), registered in ./registry.ts. The interpreter and the compiler only look parts up there.
import type {
  EntropyWgsl,
  MaskWgsl,
  PostWgsl,
  SeparationWgsl,
  SimilarityWgsl,
} from "../wgsl/types.ts";
import type { Signature } from "./signature.ts";

/** A part's value in the IR: its kind and its arguments. */
type Spec = { kind: string };

/** Row-major matrix of float64: rows x cols. */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

export interface EntropyPart<E extends Spec = Spec> {
  kind: E["kind"];
  /** Its name and arguments in the language (the IR schema and the checker derive from it). */
  signature: Signature<E["kind"]>;
  /** The forward map in one line of math, for `explain` and the generated WGSL header. */
  math: string;
  /** ŷ(θ + c) = ŷ(θ): the max may be subtracted first. */
  shiftInvariant: boolean;
  /** Weights are exactly zero off a support (thresholded maps). */
  sparse: boolean;
  /**
   * float64 reference normalizer. `scores` already include beta; entries that a mask removed are
   * -Infinity and must get weight exactly 0 (they do not count in N either). Returns new weights.
   */
  reference(scores: Float64Array, spec: E): Float64Array;
  /**
   * The conjugate Ω*(θ) = max_p <θ,p> − Ω(p), evaluated at p = reference(θ). Used by the energy
   * E(q) = −β⁻¹ Ω*(β s(X,q)) + Ψ(q). Masked (-Infinity) entries are skipped.
   */
  conjugate(scores: Float64Array, weights: Float64Array, spec: E): number;
  /** Its lowering into the fused kernel (src/wgsl/kernel.ts). */
  wgsl(spec: E): EntropyWgsl;
}

export interface PostPart<P extends Spec = Spec> {
  kind: P["kind"];
  /** Its name and arguments in the language (the IR schema and the checker derive from it). */
  signature: Signature<P["kind"]>;
  math: string;
  /** Memories and queries are post-transformed before the first step (MATH.md 2.2). */
  transformsInputs: boolean;
  /** ŷ_Ψ(z) in float64; `beta` is only used by tanh. Returns a new vector. */
  reference(z: Float64Array, spec: P, beta: number): Float64Array;
  /** Ψ(q), the convex energy term (½‖q‖² for identity; 0 on the constraint set of l2/layernorm). */
  energy(q: Float64Array, spec: P, beta: number): number;
  /** Its lowering into the fused kernel. */
  wgsl(spec: P, beta: number): PostWgsl;
}

export interface SimilarityPart<S extends Spec = Spec> {
  kind: S["kind"];
  /** Its name and arguments in the language (the IR schema and the checker derive from it). */
  signature: Signature<S["kind"]>;
  math: string;
  /**
   * Memories and queries must hold no negative entry (the divergences and normalized_dot read
   * rows as distributions); src/shapes.ts checkValues enforces it with the data.
   */
  nonNegative?: boolean;
  /** s(x_i, q) for every memory row i, written into `out` (length X.rows). */
  reference(X: Mat, q: Float64Array, spec: S, out: Float64Array): void;
  /** Its lowering into the fused kernel. */
  wgsl(spec: S): SimilarityWgsl;
}

export interface MaskPart<K extends Spec = Spec> {
  kind: K["kind"];
  /** Its name and arguments in the language (the IR schema and the checker derive from it). */
  signature: Signature<K["kind"]>;
  math: string;
  /**
   * Removes memories in place: sets the scores of masked memories to -Infinity. `query` is the
   * index of the query in its batch (the random mask is a hash of seed, query and memory index).
   */
  reference(scores: Float64Array, spec: K, query: number): void;
  /** Its lowering into the fused kernel. */
  wgsl(spec: K): MaskWgsl;
}

/**
 * A separation function (UHN, MATH.md 7.2; the HFYN DAM baselines, MATH.md 2.6): scores → weights,
 * elementwise on the score row plus a sum (sum-normalization) or a max (argmax, rescaling).
 * The field `separation` of the language: the modules in ./separation/ hold the math, the float64
 * reference, the energy and the WGSL lowering (a per-query pass on the stored score row).
 */
export interface SeparationPart<S extends Spec = Spec> {
  kind: S["kind"];
  /** Its name and arguments in the language (the IR schema and the checker derive from it). */
  signature: Signature<S["kind"]>;
  math: string;
  /**
   * float64 reference. `scores` are NOT multiplied by beta (HFYN puts beta in the tanh post only);
   * masked entries are -Infinity and get weight 0. Returns new weights, always finite.
   */
  reference(scores: Float64Array, spec: S): Float64Array;
  /** The energy's score term (Krotov–Hopfield −Σ F(s_i); classic HN −½ Σ s_i²), finite. */
  energy(scores: Float64Array, spec: S): number;
  /** Its lowering into the blocked kernels' weights pass (src/runtime/blocked/wgsl_rows.ts). */
  wgsl(spec: S): SeparationWgsl;
}

/**
 * The readout (the field `readout`): the rows the weights read the next state from. `keys` is
 * the memories themselves; `project` (CDAM, MATH.md 7.7) rows computed once per load from the
 * memories (after the input post-transform) and the normalized memory graph H. No WGSL: the GPU
 * path uploads the rows computed here (in float64, then float32) beside the keys.
 */
export interface ReadoutPart<R extends Spec = Spec> {
  kind: R["kind"];
  /** Its name and arguments in the language (the IR schema and the checker derive from it). */
  signature: Signature<R["kind"]>;
  math: string;
  /** The rows depend on the memory graph (`--graph`): a data check at run time. */
  usesGraph(spec: R): boolean;
  /** The readout rows [M, D] from the memories X [M, D] and the normalized graph H [M, M]. */
  rows(spec: R, X: Mat, H: Mat | null): Mat;
}
