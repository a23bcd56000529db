// A-Hop's adaptive similarity (Wang et al., ICLR 2026, arXiv 2511.20609; MATH.md 7.6), as public
// summaries of the paper describe it (the paper's text and code were not available here; the
// README lists which parts are pinned down and which are hopc's choices):
//
//   per-dimension similarities of a memory xi and a query x, two kinds:
//     distance  u_d = -(xi_d - x_d)^2        product  v_d = xi_d x_d
//   footprint   each kind sorted in descending order, then summed cumulatively:
//               F_k = sum_{r <= k} u_(r)   (the similarity over the k best-matching dimensions)
//   similarity  s(xi, x) = a w^T F^dist + b w^T F^prod   (w in R^D learned, a and b learned
//               scalars mixing the two footprints)
//   retrieval   y = X^T softmax(beta s(X, x))
//   fit         cross-entropy of softmax(beta s(X, x)) against the memory each context sample was
//               made from (queries corrupted by noise, masking or a bias), Adam, lr 0.1, 200 epochs
//
// Computing it: w^T F = sum_k w_k sum_{r <= k} u_(r) = sum_r u_(r) Omega_r with the suffix sums
// Omega_r = sum_{k >= r} w_k, a weighted sum of order statistics. Its gradients are
// ds/dw_k = a F^dist_k + b F^prod_k, ds/da = w^T F^dist, ds/db = w^T F^prod (sorting is piecewise
// linear, so these hold wherever no two entries tie, and are a subgradient where they do).
// Initial parameters: w = 1/D (every footprint scale alike), a = 1, b = 0: the similarity starts
// as the mean of the cumulative distance footprint, a monotone function of the squared distance
// weighted towards the best-matching dimensions.
import { gaussian, uniform01 } from "../parts/rng.ts";
import { Adam } from "./adam.ts";

export interface AhopParams {
  /** w, D weights over the footprint's scales k = 1..D. */
  w: Float64Array;
  /** The distance footprint's mixing scalar. */
  a: number;
  /** The product footprint's mixing scalar. */
  b: number;
}

export function initialAhop(D: number): AhopParams {
  return { w: new Float64Array(D).fill(1 / D), a: 1, b: 0 };
}

/** The two footprints of a memory row and a query (each D long, written into the outputs). */
export function footprints(
  xi: ArrayLike<number>,
  xiOffset: number,
  x: ArrayLike<number>,
  D: number,
  dist: Float64Array,
  prod: Float64Array,
): void {
  for (let d = 0; d < D; d++) {
    const m = xi[xiOffset + d];
    const e = m - x[d];
    dist[d] = -e * e;
    prod[d] = m * x[d];
  }
  // The typed arrays' numeric sort (no comparator: native, ~10x faster), then descending.
  dist.sort().reverse();
  prod.sort().reverse();
  for (let k = 1; k < D; k++) {
    dist[k] += dist[k - 1];
    prod[k] += prod[k - 1];
  }
}

/** s(xi_i, x) for every memory row i of X (M x D), into `out`. */
export function ahopScores(
  params: AhopParams,
  X: ArrayLike<number>,
  M: number,
  D: number,
  x: ArrayLike<number>,
  out: Float64Array,
): void {
  const dist = new Float64Array(D);
  const prod = new Float64Array(D);
  for (let i = 0; i < M; i++) {
    footprints(X, i * D, x, D, dist, prod);
    let sd = 0;
    let sp = 0;
    for (let k = 0; k < D; k++) {
      sd += params.w[k] * dist[k];
      sp += params.w[k] * prod[k];
    }
    out[i] = params.a * sd + params.b * sp;
  }
}

export interface AhopFitSettings {
  epochs: number;
  lr: number;
  beta: number;
  seed: number;
  /**
   * The footprint scales k (1-based, ascending) that get a learned weight; w is 0 at the others.
   * Default: every k = 1..D. geometricScales(D) gives a multi-scale footprint of about
   * 2 log2(D) scales, whose fit stores and reads ~D / (2 log2 D) times fewer numbers.
   */
  scales?: number[];
}

/** Scales 1, 2, 3, 4, 6, 8, 11, 16, ... (ratio about sqrt(2)), always ending at D. */
export function geometricScales(D: number): number[] {
  const out: number[] = [];
  for (let k = 1; k < D; k = Math.max(k + 1, Math.round(k * Math.SQRT2))) out.push(k);
  out.push(D);
  return out;
}

/** Context samples: queries and the index of the memory each was made from. */
export interface ContextSet {
  queries: Float64Array;
  sources: Int32Array;
}

/**
 * The mean cross-entropy of softmax(beta s(X, x_n)) against source n over the context set, and
 * its gradient, from footprints precomputed per (sample, memory) pair (they do not depend on the
 * parameters): `fp` holds, for pair (n, i), the distance footprint then the product footprint at
 * the D (here: the number of scales) scales that params.w weighs.
 */
export function ahopLoss(
  params: AhopParams,
  fp: Float64Array,
  samples: number,
  M: number,
  D: number,
  sources: Int32Array,
  beta: number,
): { loss: number; w: Float64Array; a: number; b: number } {
  const gw = new Float64Array(D);
  let ga = 0;
  let gb = 0;
  let loss = 0;
  const sd = new Float64Array(M);
  const sp = new Float64Array(M);
  const logits = new Float64Array(M);
  for (let n = 0; n < samples; n++) {
    let top = -Infinity;
    for (let i = 0; i < M; i++) {
      const o = (n * M + i) * 2 * D;
      let d = 0;
      let p = 0;
      for (let k = 0; k < D; k++) {
        d += params.w[k] * fp[o + k];
        p += params.w[k] * fp[o + D + k];
      }
      sd[i] = d;
      sp[i] = p;
      logits[i] = beta * (params.a * d + params.b * p);
      if (logits[i] > top) top = logits[i];
    }
    let sum = 0;
    for (let i = 0; i < M; i++) sum += Math.exp(logits[i] - top);
    const src = sources[n];
    loss += top + Math.log(sum) - logits[src];
    // dL/dlogit_i = p_i - [i = source]; logit_i = beta (a w.F^d_i + b w.F^p_i).
    for (let i = 0; i < M; i++) {
      const g = (Math.exp(logits[i] - top) / sum - (i === src ? 1 : 0)) * beta;
      if (g === 0) continue;
      ga += g * sd[i];
      gb += g * sp[i];
      const o = (n * M + i) * 2 * D;
      for (let k = 0; k < D; k++) gw[k] += g * (params.a * fp[o + k] + params.b * fp[o + D + k]);
    }
  }
  const inv = 1 / samples;
  for (let k = 0; k < D; k++) gw[k] *= inv;
  return { loss: loss * inv, w: gw, a: ga * inv, b: gb * inv };
}

/** The footprints of every (sample, memory) pair, as ahopLoss reads them. */
export function contextFootprints(
  X: ArrayLike<number>,
  M: number,
  D: number,
  context: ContextSet,
  scales: number[] = Array.from({ length: D }, (_, k) => k + 1),
): Float64Array {
  const samples = context.sources.length;
  const K = scales.length;
  const bytes = samples * M * 2 * K * 8;
  if (bytes > 2 ** 31) {
    throw new RangeError(
      `A-Hop's fit would keep ${samples} x ${M} x 2 x ${K} footprint numbers (${
        (bytes / 2 ** 30).toFixed(1)
      } GiB): use fewer context samples, memories or footprint scales`,
    );
  }
  const fp = new Float64Array(samples * M * 2 * K);
  const dist = new Float64Array(D);
  const prod = new Float64Array(D);
  for (let n = 0; n < samples; n++) {
    const x = context.queries.subarray(n * D, (n + 1) * D);
    for (let i = 0; i < M; i++) {
      footprints(X, i * D, x, D, dist, prod);
      const o = (n * M + i) * 2 * K;
      for (let j = 0; j < K; j++) {
        fp[o + j] = dist[scales[j] - 1];
        fp[o + K + j] = prod[scales[j] - 1];
      }
    }
  }
  return fp;
}

/** Fit w, a, b by full-batch Adam on the context set; returns the loss per epoch (then final). */
export function fitAhop(
  X: ArrayLike<number>,
  M: number,
  D: number,
  context: ContextSet,
  settings: AhopFitSettings,
  onProgress?: (p: { epoch: number; epochs: number; loss: number }) => void,
): { params: AhopParams; losses: number[] } {
  const samples = context.sources.length;
  const bad = context.sources.findIndex((s) => s < 0 || s >= M);
  if (bad >= 0) throw new RangeError(`context sample ${bad} names memory ${context.sources[bad]}`);
  const scales = settings.scales ?? Array.from({ length: D }, (_, k) => k + 1);
  if (
    scales.some((k, j) => !Number.isInteger(k) || k < 1 || k > D || (j > 0 && k <= scales[j - 1]))
  ) {
    throw new RangeError(`footprint scales must ascend within 1..${D}, got ${scales.join(", ")}`);
  }
  const K = scales.length;
  const fp = contextFootprints(X, M, D, context, scales);
  // The fit runs on the K learned weights; the result is spread back onto the D scales.
  const fitted = initialAhop(K);
  const ab = Float64Array.of(fitted.a, fitted.b); // a and b as one more parameter array
  const adam = new Adam([fitted.w, ab], settings.lr);
  const losses: number[] = [];
  for (let t = 1; t <= settings.epochs; t++) {
    const g = ahopLoss(fitted, fp, samples, M, K, context.sources, settings.beta);
    losses.push(g.loss);
    onProgress?.({ epoch: t, epochs: settings.epochs, loss: g.loss });
    adam.step([g.w, [g.a, g.b]]);
    [fitted.a, fitted.b] = ab;
  }
  losses.push(ahopLoss(fitted, fp, samples, M, K, context.sources, settings.beta).loss);
  const w = new Float64Array(D);
  scales.forEach((k, j) => w[k - 1] = fitted.w[j]);
  return { params: { w, a: fitted.a, b: fitted.b }, losses };
}

/** How a context sample is made from its memory (the variants A-Hop's summaries name). */
export interface Corruption {
  /**
   * noise: x + N(0, level^2) per entry; mask: each entry zeroed with probability level; dropout:
   * mask, and the survivors divided by 1 - level (torch.dropout in training mode); bias: x + level.
   */
  kind: "noise" | "mask" | "dropout" | "bias";
  level: number;
}

/** Entry (n, d) of a corrupted copy, from the counter RNG. */
export function corruptEntry(v: number, c: Corruption, seed: number, n: number, d: number): number {
  switch (c.kind) {
    case "noise":
      return v + c.level * gaussian(seed, n, d);
    case "mask":
      return uniform01(seed, n, d) < c.level ? 0 : v;
    case "dropout":
      return uniform01(seed, n, d) < c.level ? 0 : v / (1 - c.level);
    case "bias":
      return v + c.level;
  }
}

/**
 * `count` context samples drawn from the memories: sample n copies memory n mod M, corrupted by
 * corruption n mod (number of corruptions), with counter-RNG draws from `seed` (reproducible).
 */
export function contextSamples(
  X: ArrayLike<number>,
  M: number,
  D: number,
  corruptions: Corruption[],
  count: number,
  seed: number,
): ContextSet {
  const queries = new Float64Array(count * D);
  const sources = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const src = n % M;
    sources[n] = src;
    const c = corruptions[n % corruptions.length];
    for (let d = 0; d < D; d++) {
      const v = X[src * D + d];
      queries[n * D + d] = corruptEntry(v, c, seed, n, d);
    }
  }
  return { queries, sources };
}
