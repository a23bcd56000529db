// Sequence-budget SparseMAP: the first step of sequential recall (MATH.md 2.5, 2.7 E2), as the
// authors run it (deep-spin/HFYN scripts/utils.py `SparseMAP_sequence_exactly_k`: LP-SparseMAP's
// `SequenceBudget` factor, AD3 FactorSequenceBudget, with `force_budget=True`).
//
// Structures: binary chains c in {0,1}^n over the memory indices with exactly k ones ("on" is
// the factor's state 0, the state its budget counts). A chain scores
//
//   score(c) = θᵀc + w · #{i : c_{i-1} = c_i = 1}          (w: the edge score, 1e8 in the paper)
//
// (the transition tensor puts w on every on->on edge between consecutive positions, 0 elsewhere,
// 0 on the start and stop edges). Each position is a two-state variable whose states both enter
// the quadratic term, [c; 1 − c] (AD3 represents a multi-valued variable by one indicator per
// state), so SparseMAP is
//
//   μ* = Σ_c α_c c,   α = argmax_{α ∈ Δ} Σ_c α_c score(c) − ½‖Σ_c α_c [c; 1 − c]‖²
//
// The returned marginals are μ* (the "on" column). Solved by the active-set method of SparseMAP
// (Niculae et al. 2018): the QP restricted to the active chains is an equality-constrained
// least-squares system; a chain whose reduced score beats the multiplier enters, one whose weight
// would turn negative leaves. The maximization oracle is a Viterbi over (position, ones so far,
// previous state): O(n k).

export interface SequenceBudgetOptions {
  /** Ones in every chain (the paper: 2, a consecutive pair). */
  k: number;
  /** Score of each consecutive on-on pair (the paper: 1e8). */
  edgeScore: number;
  /** Active-set iterations at most (default 200). */
  maxIter?: number;
}

export interface SequenceBudgetResult {
  /** μ*: the marginal of "on" at each position, Σ = k. */
  marginals: Float64Array;
  /** The chains with positive weight (their on positions) and their weights. */
  support: { on: number[]; weight: number }[];
  iterations: number;
}

type Chain = Uint8Array;

/** The highest-scoring chain under unary scores r and edge score w, with exactly k ones. */
export function bestChain(r: Float64Array, k: number, w: number): Chain {
  const n = r.length;
  if (k < 0 || k > n) throw new RangeError(`bestChain: k = ${k} ones in a chain of ${n}`);
  // best[i][j][s]: the best score of positions 0..i with j ones, position i in state s (1 = on).
  const NEG = -Infinity;
  const size = (k + 1) * 2;
  const best = new Float64Array(n * size).fill(NEG);
  const from = new Int8Array(n * size).fill(-1);
  const at = (i: number, j: number, s: number) => i * size + j * 2 + s;
  best[at(0, 0, 0)] = 0;
  if (k >= 1) best[at(0, 1, 1)] = r[0];
  for (let i = 1; i < n; i++) {
    for (let j = 0; j <= k; j++) {
      // off at i: from either state at i-1 with j ones.
      const a = best[at(i - 1, j, 0)], b = best[at(i - 1, j, 1)];
      if (a > NEG || b > NEG) {
        const s = a >= b ? 0 : 1;
        best[at(i, j, 0)] = Math.max(a, b);
        from[at(i, j, 0)] = s;
      }
      if (j >= 1) {
        const c = best[at(i - 1, j - 1, 0)], d = best[at(i - 1, j - 1, 1)] + w;
        if (c > NEG || d > NEG) {
          const s = c >= d ? 0 : 1;
          best[at(i, j, 1)] = Math.max(c, d) + r[i];
          from[at(i, j, 1)] = s;
        }
      }
    }
  }
  const chain = new Uint8Array(n);
  let s = best[at(n - 1, k, 0)] >= best[at(n - 1, k, 1)] ? 0 : 1;
  let j = k;
  for (let i = n - 1; i >= 0; i--) {
    chain[i] = s;
    const prev = i > 0 ? from[at(i, j, s)] : 0;
    if (s === 1) j--;
    s = prev;
  }
  return chain;
}

/** score(c) = θᵀc + w · (consecutive on pairs). */
export function chainScore(theta: Float64Array, c: Chain, w: number): number {
  let s = 0;
  for (let i = 0; i < c.length; i++) {
    if (c[i]) {
      s += theta[i];
      if (i > 0 && c[i - 1]) s += w;
    }
  }
  return s;
}

/** [c; 1 − c] · [c'; 1 − c'] = 2 c·c' + n − |c| − |c'|. */
function gram(a: Chain, b: Chain): number {
  let ab = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] & b[i];
    na += a[i];
    nb += b[i];
  }
  return 2 * ab + a.length - na - nb;
}

/** Solves A x = b by Gaussian elimination with partial pivoting; null when singular. */
function solve(A: number[][], b: number[]): number[] | null {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    if (Math.abs(M[piv][c]) < 1e-12) return null;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      if (f === 0) continue;
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** SparseMAP over k-one chains with edge score w (see the header). */
export function sequenceBudgetSparseMap(
  theta: Float64Array,
  opts: SequenceBudgetOptions,
): SequenceBudgetResult {
  const n = theta.length, { k, edgeScore: w } = opts;
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new RangeError(`sequence budget: k = ${k} must be an integer in 1..${n}`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(theta[i])) {
      throw new RangeError(`sequence budget: score ${i} is ${theta[i]}`);
    }
  }
  const maxIter = opts.maxIter ?? 200;
  const active: Chain[] = [bestChain(theta, k, w)];
  const scores: number[] = [chainScore(theta, active[0], w)];
  let alpha: number[] = [1];
  let iterations = 0;
  const marginalsOf = (chains: Chain[], weights: number[]) => {
    const mu = new Float64Array(n);
    chains.forEach((c, a) => {
      for (let i = 0; i < n; i++) if (c[i]) mu[i] += weights[a];
    });
    return mu;
  };
  // Round-off of a reduced score: the O(1) terms' own, plus that of w (1e8 + O(1) keeps ~1e-8).
  let maxAbs = 0;
  for (let i = 0; i < n; i++) maxAbs = Math.max(maxAbs, Math.abs(theta[i]));
  const tol = 1e-9 * (1 + maxAbs) + 1e-14 * Math.abs(w) * k;
  for (; iterations < maxIter; iterations++) {
    // Equality-constrained QP on the active set: G α + τ 1 = s, 1ᵀα = 1.
    const m = active.length;
    const A: number[][] = [];
    for (let a = 0; a < m; a++) {
      const row: number[] = [];
      for (let b = 0; b < m; b++) row.push(gram(active[a], active[b]));
      row.push(1);
      A.push(row);
    }
    A.push([...new Array(m).fill(1), 0]);
    // A constant off every score only moves τ: subtracting the largest keeps w = 1e8 from
    // swamping the O(1) differences that decide the weights.
    const top = Math.max(...scores);
    const x = solve(A, [...scores.map((v) => v - top), 1]);
    if (x === null) break; // affinely dependent chains: keep the last weights
    const target = x.slice(0, m);
    if (target.every((v) => v >= 0)) {
      alpha = target;
      const tau = x[m] + top;
      // The chain that most violates optimality: max_c score(c) − [c; 1−c]·[μ; 1−μ].
      const mu = marginalsOf(active, alpha);
      const r = new Float64Array(n);
      for (let i = 0; i < n; i++) r[i] = theta[i] - mu[i] + (1 - mu[i]);
      const c = bestChain(r, k, w);
      const reduced = chainScore(theta, c, w) - quadratic(c, mu);
      if (reduced <= tau + tol || active.some((a) => same(a, c))) break;
      active.push(c);
      scores.push(chainScore(theta, c, w));
      alpha.push(0);
      continue;
    }
    // Step toward the target until a weight reaches zero; drop it.
    let step = 1;
    for (let a = 0; a < m; a++) {
      if (target[a] < alpha[a]) step = Math.min(step, alpha[a] / (alpha[a] - target[a]));
    }
    alpha = alpha.map((v, a) => v + step * (target[a] - v));
    for (let a = m - 1; a >= 0; a--) {
      if (alpha[a] <= 1e-15) {
        active.splice(a, 1);
        scores.splice(a, 1);
        alpha.splice(a, 1);
      }
    }
    const total = alpha.reduce((s, v) => s + v, 0);
    alpha = alpha.map((v) => v / total);
  }
  const marginals = marginalsOf(active, alpha);
  const support = active.map((c, a) => ({
    on: Array.from(c).flatMap((v, i) => (v ? [i] : [])),
    weight: alpha[a],
  })).filter((s) => s.weight > 0);
  return { marginals, support, iterations };
}

/** [c; 1 − c] · [μ; 1 − μ]. */
function quadratic(c: Chain, mu: Float64Array): number {
  let s = 0;
  for (let i = 0; i < c.length; i++) s += c[i] ? mu[i] : 1 - mu[i];
  return s;
}

function same(a: Chain, b: Chain): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
