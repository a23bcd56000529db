// hopc host preparation: what `load` computes on the host, in float64, before the upload, for the
// models whose GPU kernel reads rows derived from the memories rather than the memories:
//
//   continuous memory  the ridge fit of L memories into N basis functions (MATH.md 4.1, 4.2), and
//                      the signal's norm at each quadrature point when the similarity needs it
//   features           the random matrix W from the seed, KV = sum_i phi(x_i) x_i^T and
//                      ksum = sum_i phi(x_i) (MATH.md 5.2)
//
// Self-contained on purpose (it imports nothing): `hopc compile` copies it beside the generated
// modules as `hopc_host.ts` with the runtime, and the float64 reference interpreter uses these same
// functions (src/reference/continuous.ts, src/parts/similarity/features.ts, src/parts/rng.ts), so
// the fit a generated module computes is the fit the tests check.
//
// The fits run on the host in float64 on purpose: the ridge system and the key shift of the
// positive features are where float32 would lose digits, and both cost O(L D) to O(L F D) once per
// load, against the kernel's work per query batch. The gaussian Gram matrix is banded (a basis
// function meets only its neighbours), so the fit costs O(L D + N b^2) with b the band (about 19
// rows at the default width) rather than O(N^3).

/** Row-major matrix of float64 (the same shape as src/parts/types.ts Mat). */
export interface HostMat {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** The arguments of `memory continuous(...)` the fit needs. */
export interface ContinuousSpec {
  basis: "box" | "gaussian";
  functions: number;
  width: number;
  ridge: number;
  points: number;
}

/** The arguments of `similarity features(...)`. */
export interface FeaturesSpec {
  map: "positive" | "elu" | "relu";
  count: number;
  seed: number;
}

// ---------------------------------------------------------------------------------------------
// Counter-based random numbers (the WGSL twin is RNG_WGSL in src/parts/rng.ts).

/** Chris Wellons' lowbias32 integer hash (a bijection of u32). */
export function lowbias32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hash of three u32 counters (each taken modulo 2^32) to one u32. */
export function hash3(seed: number, a: number, b: number): number {
  let h = lowbias32((seed + 0x9e3779b9) >>> 0);
  h = lowbias32((h ^ a) >>> 0);
  return lowbias32((h ^ b) >>> 0);
}

/** Uniform draw on [0, 1): the top 24 bits of hash3, times 2^-24. */
export function uniform01(seed: number, a: number, b: number): number {
  return (hash3(seed, a, b) >>> 8) * 5.9604644775390625e-8; // 2^-24
}

/** Standard normal draw (Box–Muller) from the two uniform counters (a, 2b) and (a, 2b + 1). */
export function gaussian(seed: number, a: number, b: number): number {
  const b2 = (b * 2) >>> 0;
  const u1 = uniform01(seed, a, b2);
  const u2 = uniform01(seed, a, (b2 + 1) >>> 0);
  // 1 - u1 lies in (0, 1], so the logarithm is finite.
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

// ---------------------------------------------------------------------------------------------
// Continuous memory: basis functions and the ridge fit.

/** The box bin of t: bins are [(n-1)/N, n/N), the last one closed at t = 1. */
export function boxBin(t: number, N: number): number {
  // floor(t N) can round down across a boundary (t = 7.5/11 = 15/22 gives t N = 14.999...);
  // compare with the boundaries themselves, computed as n/N, so that a memory that sits
  // exactly on a boundary (t_l = k/N) lands in the upper bin as the half-open bins say.
  let n = Math.min(N - 1, Math.max(0, Math.floor(t * N)));
  if (n + 1 < N && (n + 1) / N <= t) n++;
  else if (n > 0 && n / N > t) n--;
  return n;
}

/**
 * A gaussian bump exp(-d^2 / 2) is cut to 0 beyond this many widths from its centre, where it is
 * below 2.6e-18 of its peak. The cut keeps the fit banded (O(N b^2) instead of O(N^3)) and the
 * GPU kernel's sums short; it changes nothing float64 or float32 can see.
 */
export const GAUSSIAN_REACH = 9;

/** The basis functions that can be non-zero at t: n in [lo, hi]. */
export function basisRange(spec: ContinuousSpec, t: number): [number, number] {
  const N = spec.functions;
  if (spec.basis === "box") {
    const n = boxBin(t, N);
    return [n, n];
  }
  const r = GAUSSIAN_REACH * spec.width;
  return [
    Math.max(0, Math.ceil((t - r) * N - 0.5)),
    Math.min(N - 1, Math.floor((t + r) * N - 0.5)),
  ];
}

/** psi_n(t) for every n. Box bins are [(n-1)/N, n/N), the last one closed at t = 1. */
export function basisAt(spec: ContinuousSpec, t: number, out: Float64Array): void {
  const N = spec.functions;
  out.fill(0);
  if (spec.basis === "box") {
    out[boxBin(t, N)] = 1;
    return;
  }
  // Gaussian bumps of peak 1 (same scale as the box indicators, so `ridge` means the same).
  for (let n = 0; n < N; n++) {
    const d = (t - (n + 0.5) / N) / spec.width;
    if (Math.abs(d) <= GAUSSIAN_REACH) out[n] = Math.exp(-0.5 * d * d);
  }
}

/**
 * The ridge fit B = (F F^T + ridge I)^-1 F X of memories X (L x D). F F^T is banded (a basis
 * function only meets its neighbours), so the Gram matrix is stored and factored as a band.
 */
export function fitCoefficients(spec: ContinuousSpec, X: HostMat): HostMat {
  const L = X.rows, D = X.cols, N = spec.functions;
  const psi = new Float64Array(N);
  // Half-bandwidth: two functions that reach a common t are at most 2 reaches apart.
  const band = spec.basis === "box"
    ? 0
    : Math.min(N - 1, Math.ceil(2 * GAUSSIAN_REACH * spec.width * N) + 1);
  const gram = new Float64Array(N * (band + 1)); // gram[n][k] = (F F^T + ridge I)[n][n - k]
  const rhs = new Float64Array(N * D); // F X
  for (let l = 0; l < L; l++) {
    const t = (l + 0.5) / L;
    basisAt(spec, t, psi);
    const [lo, hi] = basisRange(spec, t);
    for (let n = lo; n <= hi; n++) {
      const a = psi[n];
      if (a === 0) continue;
      for (let m = Math.max(lo, n - band); m <= n; m++) {
        gram[n * (band + 1) + (n - m)] += a * psi[m];
      }
      for (let d = 0; d < D; d++) rhs[n * D + d] += a * X.data[l * D + d];
    }
  }
  for (let n = 0; n < N; n++) gram[n * (band + 1)] += spec.ridge;
  return { rows: N, cols: D, data: solveBanded(gram, N, band, rhs, D) };
}

/**
 * Solve G Y = R for symmetric positive (semi)definite G (n x n, half-bandwidth b, stored as
 * G[i][i - k] at i (b + 1) + k) by banded Cholesky. With ridge = 0 and a bin that holds no memory
 * the system is singular; a tiny jitter on such (near-)zero pivots keeps it solvable and gives
 * that empty bin a zero row, which is what the pseudo-inverse gives. Pivots above the jitter are
 * left alone, so a well-posed system (ridge > 0) is solved exactly.
 */
function solveBanded(
  G: Float64Array,
  n: number,
  b: number,
  R: Float64Array,
  cols: number,
): Float64Array {
  const w = b + 1;
  const Lf = new Float64Array(n * w); // Lf[i][i - k]
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, G[i * w]);
  const jitter = 1e-12 * Math.max(scale, 1);
  const at = (i: number, j: number) => Lf[i * w + (i - j)]; // L[i][j], j in [i - b, i]
  for (let i = 0; i < n; i++) {
    for (let j = Math.max(0, i - b); j <= i; j++) {
      let s = G[i * w + (i - j)];
      for (let k = Math.max(0, i - b); k < j; k++) s -= at(i, k) * at(j, k);
      if (i === j) Lf[i * w] = Math.sqrt(s > jitter ? s : Math.max(s, 0) + jitter);
      else Lf[i * w + (i - j)] = s / Lf[j * w];
    }
  }
  const Y = new Float64Array(R);
  for (let i = 0; i < n; i++) { // forward: L Z = R, all columns at once
    for (let k = Math.max(0, i - b); k < i; k++) {
      const l = at(i, k);
      for (let c = 0; c < cols; c++) Y[i * cols + c] -= l * Y[k * cols + c];
    }
    const d = Lf[i * w];
    for (let c = 0; c < cols; c++) Y[i * cols + c] /= d;
  }
  for (let i = n - 1; i >= 0; i--) { // backward: L^T Y = Z
    for (let k = i + 1; k <= Math.min(n - 1, i + b); k++) {
      const l = at(k, i);
      for (let c = 0; c < cols; c++) Y[i * cols + c] -= l * Y[k * cols + c];
    }
    const d = Lf[i * w];
    for (let c = 0; c < cols; c++) Y[i * cols + c] /= d;
  }
  return Y;
}

/** Sample points and trapezoid weights over [0, 1]. */
export function trapezoidRule(points: number): { t: Float64Array; w: Float64Array } {
  const t = new Float64Array(points), w = new Float64Array(points);
  const h = 1 / (points - 1);
  for (let j = 0; j < points; j++) {
    t[j] = j / (points - 1); // correctly rounded, so points on a bin boundary are exactly k/N
    w[j] = j === 0 || j === points - 1 ? h / 2 : h;
  }
  return { t, w };
}

// ---------------------------------------------------------------------------------------------
// Features similarity (see src/parts/similarity/features.ts for the math and the stabilization).

/** The ε in the denominator of the kernel update (as in NPH's code). */
export const KERNEL_EPS = 1e-6;
/** Additive floor of the relu map (as in NPH's code). */
export const RELU_FLOOR = 1e-3;

/** F, the number of features: spec.count for positive and relu, D for elu. */
export function featureCount(spec: FeaturesSpec, D: number): number {
  return spec.map === "elu" ? D : spec.count;
}

/**
 * The Gaussian-orthogonal random matrix W (F×D) of the positive and relu maps (null for elu).
 * Deterministic in (seed, F, D); rows of one block of D are orthogonal, row norms are χ_D draws.
 */
export function featureMatrix(spec: FeaturesSpec, D: number): HostMat | null {
  if (spec.map === "elu") return null;
  const F = spec.count;
  const data = new Float64Array(F * D);
  const v = new Float64Array(D);
  for (let r = 0; r < F; r++) {
    const blockStart = r - (r % D);
    for (let j = 0; j < D; j++) v[j] = gaussian(spec.seed, 2 * r, j);
    // Modified Gram–Schmidt against the earlier (unit) rows of this block, done twice
    // ("twice is enough") so the rows are orthogonal to float64 precision.
    for (let pass = 0; pass < 2; pass++) {
      for (let k = blockStart; k < r; k++) {
        const o = k * D;
        let d = 0;
        for (let j = 0; j < D; j++) d += v[j] * data[o + j];
        for (let j = 0; j < D; j++) v[j] -= d * data[o + j];
      }
    }
    let nv = 0;
    for (let j = 0; j < D; j++) nv += v[j] * v[j];
    nv = Math.sqrt(nv);
    const o = r * D;
    for (let j = 0; j < D; j++) data[o + j] = nv > 0 ? v[j] / nv : 0;
  }
  // Scale each unit row by an independent χ_D draw, after the whole orthonormalization (the
  // projections above use the unit rows).
  for (let r = 0; r < F; r++) {
    let c = 0;
    for (let j = 0; j < D; j++) {
      const g = gaussian(spec.seed, 2 * r + 1, j);
      c += g * g;
    }
    c = Math.sqrt(c);
    const o = r * D;
    for (let j = 0; j < D; j++) data[o + j] *= c;
  }
  return { rows: F, cols: D, data };
}

/** Features of v with an optional max shift: φ(v)·e^{−shift}, and the shift used. */
export function features(
  v: Float64Array,
  spec: FeaturesSpec,
  W: HostMat | null,
  beta: number,
  shiftToMax: boolean,
): { f: Float64Array; shift: number } {
  const sb = Math.sqrt(beta);
  const D = v.length;
  if (spec.map === "elu") {
    const f = new Float64Array(D);
    for (let j = 0; j < D; j++) {
      const t = sb * v[j];
      f[j] = t > 0 ? t + 1 : Math.exp(t); // elu(t) + 1
    }
    return { f, shift: 0 };
  }
  if (!W || W.cols !== D) throw new Error("features: W must be F×D for the positive/relu maps");
  const F = W.rows;
  const f = new Float64Array(F);
  for (let r = 0; r < F; r++) {
    let s = 0;
    const o = r * D;
    for (let j = 0; j < D; j++) s += W.data[o + j] * v[j];
    f[r] = sb * s; // (W x̃)_r
  }
  if (spec.map === "relu") {
    for (let r = 0; r < F; r++) f[r] = Math.max(f[r], 0) + RELU_FLOOR;
    return { f, shift: 0 };
  }
  let xx = 0;
  for (let j = 0; j < D; j++) xx += v[j] * v[j];
  const half = (beta * xx) / 2; // ‖x̃‖²/2
  let shift = 0;
  if (shiftToMax) {
    shift = -Infinity;
    for (let r = 0; r < F; r++) if (f[r] - half > shift) shift = f[r] - half;
  }
  const c = 1 / Math.sqrt(F);
  for (let r = 0; r < F; r++) f[r] = c * Math.exp(f[r] - half - shift);
  return { f, shift };
}

/**
 * The feature map φ (see the header). Keys (isQuery = false): φ(x) exactly. Queries
 * (isQuery = true): for the positive map, φ(q)·e^{−c_q} with c_q = max_f (W q̃ − ‖q̃‖²/2)_f, the
 * per-query factor that kernelStep compensates exactly; relu and elu are returned exactly.
 */
export function phi(
  v: Float64Array,
  spec: FeaturesSpec,
  W: HostMat | null,
  beta: number,
  isQuery: boolean,
): Float64Array {
  return features(v, spec, W, beta, isQuery).f;
}

/** Precomputed state of the kernel update: KV = Σ φ̂(x_i) x_iᵀ, ksum = Σ φ̂(x_i), φ̂ = φ e^{−c_k}. */
export interface KernelState {
  W: HostMat | null;
  /** F×D. */
  KV: HostMat;
  /** F. */
  ksum: Float64Array;
  /** c_k: the keys' features are stored divided by e^{c_k} (0 for relu and elu). */
  keyShift: number;
}

/** Streams over the memories once, keeping a running global max shift (rescaling the sums). */
export function buildKernelState(X: HostMat, spec: FeaturesSpec, beta: number): KernelState {
  const D = X.cols;
  const W = featureMatrix(spec, D);
  const F = featureCount(spec, D);
  const KV = new Float64Array(F * D);
  const ksum = new Float64Array(F);
  const shifted = spec.map === "positive";
  let keyShift = shifted ? -Infinity : 0;
  for (let i = 0; i < X.rows; i++) {
    const x = X.data.subarray(i * D, (i + 1) * D);
    const { f, shift } = features(x, spec, W, beta, shifted);
    let scale = 1; // multiplies this key's features, e^{shift − c_k}
    if (shifted) {
      if (shift > keyShift) {
        // New global max: rescale what was accumulated so far by e^{c_old − c_new}.
        const r = keyShift === -Infinity ? 0 : Math.exp(keyShift - shift);
        for (let k = 0; k < KV.length; k++) KV[k] *= r;
        for (let k = 0; k < F; k++) ksum[k] *= r;
        keyShift = shift;
      } else scale = Math.exp(shift - keyShift);
    }
    for (let r = 0; r < F; r++) {
      const fr = f[r] * scale;
      ksum[r] += fr;
      const o = r * D;
      for (let j = 0; j < D; j++) KV[o + j] += fr * x[j];
    }
  }
  if (keyShift === -Infinity) keyShift = 0; // no memories
  return { W, KV: { rows: F, cols: D, data: KV }, ksum, keyShift };
}

// ---------------------------------------------------------------------------------------------
// What a kernel's load needs from the host.

/** How a model's rows are prepared on the host (part of the kernel spec `hopc compile` emits). */
export type HostPrep =
  | {
    kind: "continuous";
    spec: ContinuousSpec;
    /** The signal's number at each point for the similarity (none for the pooled kernel). */
    pointAux: "none" | "norm" | "half_sq_norm" | "l1" | "inv_sum";
  }
  | { kind: "features"; spec: FeaturesSpec; beta: number };

/** The rows a kernel reads, and their per-row numbers (memory_aux), from memories X (L x D). */
export function hostRows(prep: HostPrep, X: HostMat): { rows: HostMat; aux?: Float64Array } {
  if (prep.kind === "features") {
    const state = buildKernelState(X, prep.spec, prep.beta);
    const F = state.ksum.length, D = X.cols;
    const count = state.W ? 2 * F : F;
    const data = new Float64Array(count * D);
    if (state.W) data.set(state.W.data, 0);
    data.set(state.KV.data, state.W ? F * D : 0);
    const aux = new Float64Array(F + 1);
    aux.set(state.ksum, 0);
    aux[F] = state.keyShift;
    return { rows: { rows: count, cols: D, data }, aux };
  }
  const coeffs = fitCoefficients(prep.spec, X);
  if (prep.pointAux === "none") return { rows: coeffs };
  // The signal x(t_j) = B^T psi(t_j) at each point: its aux number (norm, half square, ...).
  const { t } = trapezoidRule(prep.spec.points);
  const N = coeffs.rows, D = coeffs.cols;
  const psi = new Float64Array(N), x = new Float64Array(D);
  const aux = new Float64Array(t.length);
  for (let j = 0; j < t.length; j++) {
    basisAt(prep.spec, t[j], psi);
    x.fill(0);
    const [lo, hi] = basisRange(prep.spec, t[j]);
    for (let n = lo; n <= hi; n++) {
      const a = psi[n];
      if (a === 0) continue;
      for (let d = 0; d < D; d++) x[d] += a * coeffs.data[n * D + d];
    }
    let sq = 0, l1 = 0, sum = 0;
    for (let d = 0; d < D; d++) {
      sq += x[d] * x[d];
      l1 += Math.abs(x[d]);
      sum += x[d];
    }
    // As the kernels' AuxKind (runtime/blocked/types.ts): inv_sum is 0 where the sum is not positive.
    const kind = prep.pointAux;
    aux[j] = kind === "norm"
      ? Math.sqrt(sq)
      : kind === "half_sq_norm"
      ? 0.5 * sq
      : kind === "l1"
      ? l1
      : sum > 0
      ? 1 / sum
      : 0;
  }
  return { rows: coeffs, aux };
}

// ---------------------------------------------------------------------------------------------
// Graph-linked memories (CDAM, MATH.md 7.7): the readout rows of `readout project(a, h, c)`.

/** The readout `project(a, h, c)`: rows a x_i + h (H^T X)_i - c mean(X). */
export interface ProjectSpec {
  a: number;
  h: number;
  c: number;
}

/**
 * H = D^-1/2 A D^-1/2 of a graph's [M, M] adjacency A (entries >= 0, row i to column j an edge
 * i -> j), D the diagonal of the row sums (out-degrees). A zero degree gives D^-1/2 = 0 (not
 * infinity): a memory without edges reads no neighbour, and no memory reads it through H.
 */
export function normalizeGraph(A: HostMat): HostMat {
  const M = A.rows;
  const inv = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    let d = 0;
    for (let j = 0; j < M; j++) d += A.data[i * M + j];
    inv[i] = d > 0 ? 1 / Math.sqrt(d) : 0;
  }
  const H = new Float64Array(M * M);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < M; j++) H[i * M + j] = inv[i] * A.data[i * M + j] * inv[j];
  }
  return { rows: M, cols: M, data: H };
}

/**
 * The readout rows R = a X + h H^T X - c 1 mean(X)^T (X [M, D], H [M, M] normalized or null),
 * in float64. CDAM's proj = (a xi + h xi H)^T with xi = X^T (n x P): row i of xi H is
 * sum_j H[j][i] x_j, so with an edge j -> i memory i reads x_j. The mean is of the M rows of X.
 */
export function projectRows(spec: ProjectSpec, X: HostMat, H: HostMat | null): HostMat {
  const M = X.rows, D = X.cols;
  const out = new Float64Array(M * D);
  const mean = new Float64Array(D);
  for (let i = 0; i < M; i++) {
    for (let d = 0; d < D; d++) mean[d] += X.data[i * D + d] / M;
  }
  for (let i = 0; i < M; i++) {
    for (let d = 0; d < D; d++) out[i * D + d] = spec.a * X.data[i * D + d] - spec.c * mean[d];
  }
  if (H && spec.h !== 0) {
    for (let j = 0; j < M; j++) {
      for (let i = 0; i < M; i++) {
        const w = spec.h * H.data[j * M + i];
        if (w === 0) continue;
        for (let d = 0; d < D; d++) out[i * D + d] += w * X.data[j * D + d];
      }
    }
  }
  return { rows: M, cols: D, data: out };
}

// ---------------------------------------------------------------------------------------------
// Learned similarities (uhop, kernelized; src/parts/similarity/learned.ts): the GPU's key rows.

/**
 * With the fitted map phi(x) = W x + b (W: F x D row-major, b: F or none), the scores
 * s_i = <phi(x_i), phi(q)> = K_i . q + c_i with the key rows K_i = W^T phi(x_i) (D numbers) and
 * the biases c_i = phi(x_i) . b (0 without b), for the memories X (M x D, after the input
 * post-transform), in float64. The GPU stores K in place of the memories and c as each memory's
 * host aux; the readout still reads X.
 */
export function learnedKeys(
  W: ArrayLike<number>,
  b: ArrayLike<number> | null | undefined,
  F: number,
  X: HostMat,
): { keys: HostMat; bias: Float64Array } {
  const M = X.rows, D = X.cols;
  if (W.length !== F * D) {
    throw new RangeError(`the fitted W must be F x D = ${F} x ${D} numbers, got ${W.length}`);
  }
  if (b && b.length !== F) {
    throw new RangeError(`the fitted b must be F = ${F} numbers, got ${b.length}`);
  }
  const keys = new Float64Array(M * D);
  const bias = new Float64Array(M);
  const phi = new Float64Array(F);
  for (let i = 0; i < M; i++) {
    const x = i * D;
    for (let f = 0; f < F; f++) {
      let s = b ? b[f] : 0;
      const w = f * D;
      for (let d = 0; d < D; d++) s += W[w + d] * X.data[x + d];
      phi[f] = s;
    }
    let c = 0;
    for (let f = 0; f < F; f++) {
      const p = phi[f];
      if (b) c += p * b[f];
      if (p === 0) continue;
      const w = f * D;
      for (let d = 0; d < D; d++) keys[x + d] += p * W[w + d];
    }
    bias[i] = c;
  }
  return { keys: { rows: M, cols: D, data: keys }, bias };
}

// ---------------------------------------------------------------------------------------------
// A-Hop (src/parts/similarity/ahop.ts): the footprint pass's host numbers.

/**
 * The D + 2 numbers the footprint pass reads from its host aux: the suffix sums
 * Omega_r = sum_{k >= r} w_k of the footprint weights (in float64, then rounded to f32 on upload),
 * then a and b, so that s = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r = a w^T F^dist + b w^T F^prod.
 */
export function ahopAux(w: ArrayLike<number>, a: number, b: number): Float64Array {
  const D = w.length;
  const out = new Float64Array(D + 2);
  let s = 0;
  for (let r = D - 1; r >= 0; r--) {
    s += w[r];
    out[r] = s;
  }
  out[D] = a;
  out[D + 1] = b;
  return out;
}
