// Copied by hopc from src/runtime/blocked/types.ts. Do not edit.
// The query-blocked kernels: what they need to know about a model (its parts' WGSL, as data) and
// the plan that shapes them. Self-contained on purpose: `hopc compile` copies this folder beside
// the generated modules, so a generated module plans and assembles its kernels at load time for
// whatever shapes and adapter it meets, with exactly the code the compiler itself runs.

/**
 * A per-row / per-query number a similarity needs, computed from the vector v by the same WGSL for
 * memories (at load) and states (every step): `norm` |v|, `half_sq_norm` |v|^2 / 2, `l1` sum |v_j|,
 * `inv_sum` 1 / sum v_j (0 when the sum is not positive: a vector with no distribution).
 * `host`: a per-memory number given by the host at load (the learned similarities' bias
 * c_i = phi(x_i) . b), never computed on the GPU; memories only (no query has one).
 */
export type AuxKind = "none" | "norm" | "half_sq_norm" | "l1" | "inv_sum" | "host";

/** A model's math as WGSL snippets (from the part modules in src/parts/, at compile time). */
export interface BlockedParts {
  name: string;
  file: string;
  /** Model-level comment lines for the WGSL header. */
  header: string[];
  beta: number;
  maxSteps: number;
  /** `until(tol)`: the tolerance on |q_t - q_{t-1}|; null for a fixed step count. */
  tol: number | null;
  /**
   * online: softmax-like maps in one pass; threshold: a kept score row and a threshold;
   * features, quadrature: the scored rows are projections of the state (see `projected`).
   */
  family: "online" | "threshold" | "features" | "quadrature";
  sim: {
    math: string;
    memoryAux: AuxKind;
    queryAux: AuxKind;
    /** The score is x . q plus per-row and per-query terms (the matrix form applies). */
    linear: boolean;
    /** One vec4 chunk's contribution, in `x`, `q` and the row's and query's aux `xa`, `qa`. */
    accumulate: string;
    /** The score before beta from `acc`, `mem_aux`, `query_aux`. */
    finish: string;
  };
  ent:
    | { kind: "exp"; math: string; zeroMemory: boolean }
    | {
      kind: "threshold";
      math: string;
      shift: string;
      bracket: string;
      summand: string;
      target: string;
      weight: string;
      normalize: boolean;
    }
    | {
      /**
       * A separation function (no beta in the scores): weight(s, m) after the row statistic m,
       * optionally sum-normalized (src/parts/separation/, wgsl_rows.ts separationPass).
       */
      kind: "separation";
      math: string;
      stat: "none" | "max" | "max_abs" | "argmax";
      weight: string;
      normalize: boolean;
      functions: string;
    };
  /** Halvings of the threshold interval (0 for the exp maps). */
  bisection: number;
  post: {
    math: string;
    transformsInputs: boolean;
    needs: ("sq_norm" | "mean_var")[];
    chunk: string;
  };
  mask:
    | { kind: "none" }
    | { kind: "topk"; math: string; k: number }
    | { kind: "random"; math: string; threshold: number; seed: number };
  /** The counter-based hash of the random mask (src/parts/rng.ts), when the mask needs it. */
  rngWgsl: string;
  /**
   * Models whose scored rows are projections of the state, prepared on the host at load: the
   * score pass computes the projections (a GEMM over the thread's queries, as for memories) and
   * one per-query pass turns them into the readout weights (null for the memory-row families).
   */
  projected: ProjectedParts | null;
  /**
   * Where the readout reads the next state from: `keys`, the scored rows themselves, or `rows`,
   * readout rows prepared on the host at load (CDAM's projection over the memory graph, MATH.md
   * 7.7) and stored after each chunk's key rows (the fused schedule, which reads one row for
   * both, is then not used). Absent: keys.
   */
  readout?: "keys" | "rows";
  /** `relax eta`: the finish pass's state <- state + eta (post(o) - state). Absent: 1. */
  relax?: number;
  /**
   * A-Hop's adaptive similarity (issue 12): the footprint pass (wgsl_footprint.ts) replaces
   * score_rows, one workgroup per (query, memory row), reading the suffix sums Omega of the
   * footprint weights and the mixing scalars a, b from the host aux (D + 2 numbers, every chunk).
   */
  footprint?: boolean;
}

/**
 * features (MATH.md 5.2): rows [W; KV] (W = I for elu), F rows each; projections a = W q scaled in
 * the score pass, weights phi(a) / (ksum . phi(a) + eps) with ksum and the keys' shift c_k in
 * memory_aux; the readout reads the KV rows.
 * quadrature (MATH.md 4.1): rows B (N x D); projections r = B q; scores at the P points
 * s_j = beta * finish(psi(t_j) . r, aux_j, aux_q), the density, weights E[psi]_n; readout B^T E.
 */
export type ProjectedParts =
  | {
    kind: "features";
    /** The F = M key rows are W (the identity for elu), KV follows them in the same buffer. */
    map: "positive" | "relu" | "elu";
    /** log(1e-6): the denominator's epsilon, rescaled by the shifts for positive features. */
    logEps: number;
    reluFloor: number;
  }
  | {
    kind: "quadrature";
    basis: "box" | "gaussian";
    N: number;
    P: number;
    width: number;
    /** Gaussian bumps are cut at this distance in t (they are < 2.6e-18 past it). */
    reach: number;
    /** Most basis functions reaching one point, most points one basis function reaches. */
    basisPerPoint: number;
    pointsPerBasis: number;
    /** The model's beta and its similarity's finish (of `acc`, `mem_aux`, `query_aux`). */
    beta: number;
    finish: string;
    /** The density over the points: exp (Gibbs) or a threshold map bisected from `lo`. */
    density:
      | { kind: "exp" }
      | { kind: "threshold"; lo: number; iterations: number };
  };

/**
 * Every choice of one blocked execution (the kernel plan's `blocked` part). The WGSL text reads
 * only the fields marked (text); the others size dispatches and buffers.
 */
export interface BlockedPlan {
  /** fused: one pass over X per step (scores, online max/sum and readout); threePass: scores ->
   * row normalizer -> readout (any map, any D). */
  schedule: "fused" | "threePass";
  /** (text) vec4 chunks of a state: ceil(D / 4). */
  d4: number;
  /** (text) rows of X one thread scores per iteration (register blocking along M). */
  rowBlock: number;
  /** (text) queries per thread: one or two mat4x4 of states (the fused schedule takes 4). */
  queriesPerThread: 4 | 8;
  /** (text) threads per workgroup of the blocked passes (scores, fused, readout). */
  workgroupSize: number;
  /** (text) threads per workgroup of the per-query passes (row normalizer, finish, prepare). */
  rowWorkgroupSize: number;
  /** (text) the thread's queries live in private memory (else they are read from storage). */
  queriesPrivate: boolean;
  /**
   * (text) how the score pass reads X: straight from storage (each thread loads its rows; on CPU
   * adapters loads hit the same cache lines anyway), or staged through workgroup memory in tiles
   * of rowBlock rows x `tileChunks` vec4 chunks that the workgroup's threads load once together and
   * all use (the GPU design; its threads then share one split of M).
   */
  tile: "none" | "workgroup";
  /** (text) vec4 chunks of D per workgroup tile (0 without tiles). */
  tileChunks: number;
  /** (text) vec4 chunks of D one readout thread accumulates (D is split into slices of this). */
  readoutSlice: number;
  /** Memory rows one invocation covers in one pass (so its loops stay within the budget). */
  rowsPerSplit: number;
  /** Halvings one row_bisect dispatch performs (the rest go to further dispatches). */
  halvingsPerDispatch: number;
  /** Memory rows per storage buffer (memories past one binding are split across buffers). */
  rowsPerChunk: number;
  /** Scratch floats per query past its three M-long rows (the quadrature's point masses). */
  rowExtra: number;
  /** The per-invocation loop budget this plan respects, and its estimate of each pass. */
  loopBudget: number;
  iterations: Record<string, number>;
  /**
   * The footprint pass of an A-Hop model: (text) P, D padded to a power of two (the sorted
   * length), and (text) the threads of its workgroup. Absent for other models.
   */
  footprint?: { P: number; workgroupSize: number };
  /** Where the choices came from. */
  source: "rule" | "tuned";
  notes: string[];
}
