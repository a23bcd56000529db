// The float64 reference interpreter: evaluates a checked model IR on the CPU, exactly as
// LANGUAGE.md section 2 and MATH.md state it. It is deliberately plain (no tiling, no fusion):
// every GPU path is tested against it.
//
// One run, per query independently (MATH.md 0.1):
//   q <- post(q) and X <- post(rows of X)        when the post-transform says so (MATH.md 2.2)
//   repeat: scores  = beta * similarity(X, q)     (masked memories -> -Infinity)
//           weights = normalizer of the entropy (scores)
//           q       = post(R^T weights)          R = X, or the readout's rows (CDAM, MATH.md 7.7)
//           q       = q_prev + eta (q - q_prev)    with `relax eta` (eta = 1: the plain update)
// Continuous memory replaces X by fitted coefficients and the normalizer by a density over t;
// `features` similarity replaces scores and normalizer by the kernel-normalized update.
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { checkValues } from "../shapes.ts";
import {
  entropyPart,
  maskPart,
  postPart,
  separationPart,
  similarityPart,
} from "../parts/registry.ts";
import {
  buildKernelState,
  kernelStep,
  kernelWeightsFrom,
  keyFeatureRows,
} from "../parts/similarity/features.ts";
import {
  type ContinuousMemory,
  densityAtPoints,
  fitCoefficients,
  sampledBasis,
  trapezoidRule,
  usesPooledForm,
} from "./continuous.ts";
import {
  applyClamp,
  checkGraph,
  clampRow,
  type Extras,
  readoutRows,
  valuesReadout,
} from "../extras.ts";
import { clampF32 } from "../parts/separation/common.ts";
import { featureRows, modelFit, type ModelFitOptions } from "../fit/model_fit.ts";
import { isAhopFit, type StoredFit } from "../fit/store.ts";
import { ahopScores } from "../fit/ahop.ts";
import { applyMap } from "../fit/linear_map.ts";

/** What one step did to each query, for `--trace`. */
export interface StepTrace {
  /** 0 is the initial state (after the input post-transform), then one entry per step. */
  step: number;
  /** Energy of each query's state after this step; null where the model has no energy. */
  energy: (number | null)[];
  /** L2 distance moved by each query's state in this step (0 for a query that had stopped). */
  change: number[];
  /** Number of non-zero weights of each query in this step. */
  support: number[];
  /** Queries still iterating after this step. */
  active: number;
}

export interface RetrievalOutput {
  /** Final states, B x D; with values, their readout V^T p of the final weights, B x Dv. */
  states: Mat;
  /** Final weights, B x M (B x functions for continuous memory). */
  weights: Mat;
  /** Steps each query ran. */
  stepsRun: number[];
  trace: StepTrace[];
}

/** A model bound to its memories: everything computed once per `load`. */
export interface LoadedMemory {
  model: Model;
  /** Memories after the input post-transform (or fitted coefficients for continuous memory). */
  values: Mat;
  /** What the weights range over: memories, or basis functions. */
  width: number;
  step(q: Float64Array, query: number): { next: Float64Array; weights: Float64Array };
  energy(q: Float64Array, query: number): number | null;
  /** The fit of a learned similarity (uhop, kernelized, ahop), made at load or given; else null. */
  fit?: StoredFit | null;
}

/**
 * Bind a model to its memories. `weights: false` lets `features` models skip the per-memory
 * weights (they need the features of every memory, M x F numbers); other models get them free.
 * `graph` is the memory graph [M, M] of `readout project` (src/extras.ts checks it here).
 */
export function loadReference(
  model: Model,
  X: Mat,
  opts: { weights?: boolean; graph?: Mat } & ModelFitOptions = {},
): LoadedMemory {
  checkValues(model, X, null);
  checkGraph(model, X.rows, opts.graph);
  const prepared = prepareMemories(model, X);
  // A learned similarity's map is fitted here, once, on the prepared memories (or given).
  const fit = modelFit(model, prepared, opts);
  if (model.similarity.kind === "features") {
    return { ...loadFeatures(model, prepared, opts.weights ?? true), fit: null };
  }
  if (model.memory.kind === "continuous") {
    return { ...loadContinuous(model, model.memory, prepared), fit: null };
  }
  const R = readoutRows(model, prepared, opts.graph);
  if (!fit) return { ...loadDiscrete(model, prepared, R), fit: null };
  if (isAhopFit(fit)) {
    // A-Hop: s_i = a w^T F^dist(x_i, q) + b w^T F^prod(x_i, q) on the prepared memories.
    const score = (q: Float64Array, out: Float64Array) =>
      ahopScores(fit.params, prepared.data, prepared.rows, prepared.cols, q, out);
    return { ...loadDiscrete(model, prepared, R, score), fit };
  }
  // s_i = <phi(x_i), phi(q)>, directly: the memories' features once, the query's per step.
  const features = featureRows(fit, prepared);
  const map = fit.result.map;
  const score = (q: Float64Array, out: Float64Array) => {
    const fq = applyMap(map, q, 1);
    similarityPart({ kind: "dot" }).reference(features, fq, { kind: "dot" }, out);
  };
  return { ...loadDiscrete(model, prepared, R, score), fit };
}

export function retrieveReference(
  model: Model,
  X: Mat,
  Q: Mat,
  loaded?: LoadedMemory,
  extras: Extras = {},
): RetrievalOutput {
  loaded ??= loadReference(model, X, { graph: extras.graph });
  checkValues(model, null, Q);
  const B = Q.rows, D = Q.cols;
  const states = { rows: B, cols: D, data: new Float64Array(B * D) };
  const weights = { rows: B, cols: loaded.width, data: new Float64Array(B * loaded.width) };
  const maxSteps = model.steps.kind === "fixed" ? model.steps.count : model.steps.max;
  const tol = model.steps.kind === "until" ? model.steps.tol : -1;
  const relax = model.relax ?? 1;
  // The relaxed step is no CCCP step of the model's energy: none is reported (null).
  const energyOf = (q: Float64Array, b: number) => relax === 1 ? loaded!.energy(q, b) : null;

  const qs: Float64Array[] = [];
  const initial: StepTrace = { step: 0, energy: [], change: [], support: [], active: B };
  for (let b = 0; b < B; b++) {
    const q0 = Q.data.slice(b * D, (b + 1) * D);
    const q = transformInput(model, q0).slice();
    const fixed = clampRow(extras.clamp, b);
    if (fixed) applyClamp(q, q0, fixed); // clamped dims keep the given values (src/extras.ts)
    qs.push(q);
    initial.energy.push(energyOf(qs[b], b));
    initial.change.push(0);
    initial.support.push(0);
  }
  const trace = [initial];
  const stepsRun = new Array<number>(B).fill(0);
  const active = new Array<boolean>(B).fill(true);

  for (let t = 1; t <= maxSteps && active.some((a) => a); t++) {
    const entry: StepTrace = { step: t, energy: [], change: [], support: [], active: 0 };
    for (let b = 0; b < B; b++) {
      if (!active[b]) {
        entry.energy.push(energyOf(qs[b], b));
        entry.change.push(0);
        entry.support.push(
          countNonZero(weights.data.subarray(b * loaded.width, (b + 1) * loaded.width)),
        );
        continue;
      }
      const { next, weights: w } = loaded.step(qs[b], b);
      if (relax !== 1) { // the Euler step x <- x + eta (r - x) (CDAM, MATH.md 7.7)
        for (let d = 0; d < D; d++) next[d] = qs[b][d] + relax * (next[d] - qs[b][d]);
      }
      const fixed = clampRow(extras.clamp, b);
      if (fixed) applyClamp(next, Q.data.subarray(b * D, (b + 1) * D), fixed);
      const moved = distance(next, qs[b]);
      qs[b] = next;
      weights.data.set(w, b * loaded.width);
      stepsRun[b] = t;
      if (moved < tol) active[b] = false;
      entry.energy.push(energyOf(next, b));
      entry.change.push(moved);
      entry.support.push(countNonZero(w));
    }
    entry.active = active.filter((a) => a).length;
    trace.push(entry);
  }
  for (let b = 0; b < B; b++) states.data.set(qs[b], b * D);
  if (extras.values) {
    return { states: valuesReadout(extras.values, weights), weights, stepsRun, trace };
  }
  return { states, weights, stepsRun, trace };
}

// ---------------------------------------------------------------------------------------------
// Discrete memory: scores over the M rows.

function loadDiscrete(
  model: Model,
  X: Mat,
  R: Mat = X,
  /** The scores of a learned similarity (its fitted map), in place of the part's reference. */
  score?: (q: Float64Array, out: Float64Array) => void,
): LoadedMemory {
  const sim = similarityPart(model.similarity);
  const entropy = entropyPart(model.entropy);
  const mask = maskPart(model.mask);
  const post = postPart(model.post);
  const beta = model.beta;
  // A separation function replaces the normalizer and reads the scores without beta (HFYN puts
  // beta only inside the tanh post, MATH.md 2.6).
  const sep = model.separation.kind === "fenchel_young" ? null : model.separation;
  const scale = sep ? 1 : beta;
  const weightsOf = (s: Float64Array) =>
    sep ? separationPart(sep).reference(s, sep) : entropy.reference(s, model.entropy);

  const scoresOf = (q: Float64Array, query: number) => {
    const s = new Float64Array(X.rows);
    if (score) score(q, s);
    else sim.reference(X, q, model.similarity, s);
    for (let i = 0; i < s.length; i++) s[i] *= scale;
    mask.reference(s, model.mask, query);
    return s;
  };

  // The HFY energy E(q) = -1/beta Omega*(beta s) + Psi(q) (MATH.md 2.1) is a Lyapunov function
  // of this update for dot scores, and for euclidean scores written as dot plus a per-memory
  // bias (MATH.md 0). Masks that depend on q (topk) or on the query index break the CCCP
  // argument, and other similarities have no such energy: those report null.
  // A projected readout or a relaxed step is no CCCP step of this energy: none is reported.
  // A learned similarity's scores (`score`) are dot products of fitted features, not of the
  // memories the update reads: no energy either.
  const plain = R === X && (model.relax ?? 1) === 1 && !score;
  const hasEnergy = plain && model.mask.kind === "none" &&
    (model.similarity.kind === "dot" ||
      (model.similarity.kind === "euclidean" && entropy.shiftInvariant));
  const halfNorms = rowHalfNorms(X);

  return {
    model,
    values: X,
    width: X.rows,
    step(q, query) {
      const w = weightsOf(scoresOf(q, query));
      // Unnormalized separation weights reach F32_MAX: their readout is clamped the same way,
      // so the state is a finite float32 wherever the GPU's is (src/runtime/blocked finish).
      const o = readout(R, w);
      if (sep) { for (let j = 0; j < o.length; j++) o[j] = clampF32(o[j]); }
      return { next: post.reference(o, model.post, beta), weights: w };
    },
    energy(q) {
      // Separations: the dense associative memory's E(q) = -sum_i F(s(x_i, q)) (Krotov-Hopfield,
      // MATH.md 7.8; -1/2 sum s^2 for the classic network), where no mask depends on q.
      if (sep) {
        return plain && model.mask.kind === "none"
          ? separationPart(sep).energy(scoresOf(q, 0), sep)
          : null;
      }
      if (!hasEnergy) return null;
      const s = new Float64Array(X.rows);
      similarityPart({ kind: "dot" }).reference(X, q, { kind: "dot" }, s);
      for (let i = 0; i < s.length; i++) {
        s[i] = beta * (model.similarity.kind === "euclidean" ? s[i] - halfNorms[i] : s[i]);
      }
      const w = entropy.reference(s, model.entropy);
      return -entropy.conjugate(s, w, model.entropy) / beta + post.energy(q, model.post, beta);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Continuous memory: coefficients B (N x D), density over t in [0, 1].

function loadContinuous(model: Model, spec: ContinuousMemory, X: Mat): LoadedMemory {
  const coeffs = fitCoefficients(spec, X);
  const post = postPart(model.post);
  const entropy = entropyPart(model.entropy);
  const beta = model.beta, N = spec.functions;
  const alpha = model.entropy.kind === "tsallis"
    ? model.entropy.alpha
    : model.entropy.kind === "sparsemax"
    ? 2
    : null;

  // The similarity scores the fitted signal: s(t) = beta * similarity(x(t), q) with
  // x(t) = B^T psi(t). With dot this is beta q^T B^T psi(t), linear in psi (MATH.md 4.1); the
  // other similarities (which the checker lets through) are applied to x(t) itself.
  const sim = similarityPart(model.similarity);
  const isDot = model.similarity.kind === "dot";
  const rq = (q: Float64Array) => { // r = beta s(B, q): the score of each basis function's coefficient
    const r = new Float64Array(N);
    sim.reference(coeffs, q, model.similarity, r);
    for (let n = 0; n < N; n++) r[n] *= beta;
    return r;
  };

  if (usesPooledForm(spec)) {
    // s(t) is constant (= r_n) on bin n of width 1/N: the bin masses are a discrete normalizer
    // of N^(1-alpha) r (MATH.md 4.2 items 2 and 3); for shannon the factor is 1.
    const scale = alpha === null ? 1 : Math.pow(N, 1 - alpha);
    const masses = (q: Float64Array) =>
      entropy.reference(rq(q).map((v) => v * scale), model.entropy);
    return {
      model,
      values: coeffs,
      width: N,
      step(q) {
        const m = masses(q);
        return { next: post.reference(readout(coeffs, m), model.post, beta), weights: m };
      },
      energy(q) {
        if (alpha !== null || model.post.kind !== "identity" || !isDot) return null;
        // -1/beta log int_0^1 exp(s(t)) dt + |q|^2/2, the integral being mean_n exp(r_n).
        return -logMeanExp(rq(q)) / beta + post.energy(q, model.post, beta);
      },
    };
  }

  const psi = sampledBasis(spec); // P x N
  const { w } = trapezoidRule(spec.points);
  const P = spec.points;
  // For similarities other than dot: the signal x(t_j) = B^T psi(t_j) at every point (P x D).
  const signal = isDot ? null : matmul(psi, coeffs);
  const scoresAtPoints = (q: Float64Array) => {
    const s = new Float64Array(P);
    if (signal) {
      sim.reference(signal, q, model.similarity, s);
      for (let j = 0; j < P; j++) s[j] *= beta;
      return s;
    }
    const r = rq(q);
    for (let j = 0; j < P; j++) {
      let acc = 0;
      for (let n = 0; n < N; n++) acc += psi.data[j * N + n] * r[n];
      s[j] = acc;
    }
    return s;
  };
  return {
    model,
    values: coeffs,
    width: N,
    step(q) {
      const p = densityAtPoints(scoresAtPoints(q), w, alpha);
      // E_p[psi_n] = int p(t) psi_n(t) dt by the same trapezoid rule.
      const expected = new Float64Array(N);
      for (let j = 0; j < P; j++) {
        const pw = p[j] * w[j];
        if (pw === 0) continue;
        for (let n = 0; n < N; n++) expected[n] += pw * psi.data[j * N + n];
      }
      return {
        next: post.reference(readout(coeffs, expected), model.post, beta),
        weights: expected,
      };
    },
    energy(q) {
      if (alpha !== null || model.post.kind !== "identity" || !isDot) return null;
      const s = scoresAtPoints(q);
      let max = -Infinity; // a loop, not Math.max(...s): P can exceed the argument limit
      for (const v of s) max = Math.max(max, v);
      let integral = 0;
      for (let j = 0; j < P; j++) integral += w[j] * Math.exp(s[j] - max);
      return -(max + Math.log(integral)) / beta + post.energy(q, model.post, beta);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Random or deterministic features: q+ = (KV^T phi(q)) / (ksum^T phi(q) + 1e-6) (MATH.md 5.2).

function loadFeatures(model: Model, X: Mat, withWeights: boolean): LoadedMemory {
  if (model.similarity.kind !== "features") throw new Error("unreachable");
  const spec = model.similarity;
  const state = buildKernelState(X, spec, model.beta);
  const post = postPart(model.post);
  // The implied weight of memory i is phi(q).phi(x_i) / (sum_j phi(q).phi(x_j) + 1e-6): the update
  // is their readout (up to the epsilon). The memories' features are computed once, here.
  const keys = withWeights ? keyFeatureRows(state, X, spec, model.beta) : null;
  return {
    model,
    values: X,
    width: keys ? X.rows : 0,
    step(q) {
      return {
        next: post.reference(kernelStep(state, q, spec, model.beta), model.post, model.beta),
        weights: keys ? kernelWeightsFrom(state, keys, q, spec, model.beta) : new Float64Array(0),
      };
    },
    energy: () => null,
  };
}

// ---------------------------------------------------------------------------------------------

/** A memory or query after the input post-transform (MATH.md 2.2), or as given. */
export function transformInput(model: Model, v: Float64Array): Float64Array {
  const post = postPart(model.post);
  return post.transformsInputs ? post.reference(v, model.post, model.beta) : v;
}

/** Every memory row after the input post-transform (X itself when the post keeps inputs). */
export function prepareMemories(model: Model, X: Mat): Mat {
  return postPart(model.post).transformsInputs ? mapRows(X, (r) => transformInput(model, r)) : X;
}

/** X^T w, skipping memories with weight exactly zero (the sparse maps' supports). */
export function readout(X: Mat, w: Float64Array): Float64Array {
  const z = new Float64Array(X.cols);
  for (let i = 0; i < X.rows; i++) {
    const wi = w[i];
    if (wi === 0) continue;
    const row = i * X.cols;
    for (let d = 0; d < X.cols; d++) z[d] += wi * X.data[row + d];
  }
  return z;
}

/** A B for row-major A (n x k) and B (k x m). */
function matmul(A: Mat, B: Mat): Mat {
  const out = new Float64Array(A.rows * B.cols);
  for (let i = 0; i < A.rows; i++) {
    for (let k = 0; k < A.cols; k++) {
      const a = A.data[i * A.cols + k];
      if (a === 0) continue;
      for (let j = 0; j < B.cols; j++) out[i * B.cols + j] += a * B.data[k * B.cols + j];
    }
  }
  return { rows: A.rows, cols: B.cols, data: out };
}

export function mapRows(X: Mat, f: (row: Float64Array) => Float64Array): Mat {
  const data = new Float64Array(X.data.length);
  for (let i = 0; i < X.rows; i++) {
    data.set(f(X.data.slice(i * X.cols, (i + 1) * X.cols)), i * X.cols);
  }
  return { rows: X.rows, cols: X.cols, data };
}

function rowHalfNorms(X: Mat): Float64Array {
  const h = new Float64Array(X.rows);
  for (let i = 0; i < X.rows; i++) {
    let s = 0;
    for (let d = 0; d < X.cols; d++) s += X.data[i * X.cols + d] ** 2;
    h[i] = s / 2;
  }
  return h;
}

function logMeanExp(r: Float64Array): number {
  let max = -Infinity;
  for (const v of r) max = Math.max(max, v);
  let s = 0;
  for (const v of r) s += Math.exp(v - max);
  return max + Math.log(s / r.length);
}

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

function countNonZero(w: Float64Array): number {
  let c = 0;
  for (const v of w) if (v !== 0) c++;
  return c;
}
