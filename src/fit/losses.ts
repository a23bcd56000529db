// Separation losses over the unit-normalized features of the memories, each with its analytic
// gradient (checked against finite differences in tests/fit_test.ts). These are the Stage-I
// objectives of the learned similarities (MATH.md 6.1 U-Hop, 7.9 kernelized Hopfield). Rows z_i
// of Z (M x F) are unit vectors; P = M(M-1)/2 is the number of pairs i < j.
//
//   uniform_mean  L = log( (1/P) sum_{i<j} exp(-t |z_i - z_j|^2) )      (U-Hop `uniform_loss`)
//   uniform_max   L = max_{i<j} ( -t |z_i - z_j|^2 ) = -t min_{i<j} |z_i - z_j|^2
//                                                         (U-Hop `uniform_loss_max`; subgradient
//                                                          through the closest pair, the first in
//                                                          (i, j) order on ties)
//   separation    L = (1/M) log( (1/P) sum_{i<j} exp(<z_i, z_j> / tau) )
//                                                         (Optimal-Hopfield-Memory `separation_loss`
//                                                          over the pairs i < j only: the authors'
//                                                          torch.triu also adds the exp(0) = 1 of
//                                                          each zeroed entry, i >= j, to the sum,
//                                                          which is not the loss their paper states)
// Log-sum-exps subtract their maximum, so no loss overflows for any t or tau.

export type LossKind = "uniform_mean" | "uniform_max" | "separation";

export interface LossValue {
  loss: number;
  /** dL/dZ, M x F row-major. */
  grad: Float64Array;
}

/** The loss and its gradient with respect to the normalized features Z (M x F, M >= 2). */
export function separationLoss(
  kind: LossKind,
  Z: Float64Array,
  M: number,
  F: number,
  temperature: number,
): LossValue {
  if (M < 2) throw new RangeError(`a separation loss needs at least 2 memories, got ${M}`);
  const grad = new Float64Array(M * F);
  // Pair statistic a_ij: -t |z_i - z_j|^2 for the uniformity losses, <z_i, z_j> / tau otherwise.
  const pairs = (M * (M - 1)) / 2;
  const a = new Float64Array(pairs);
  let p = 0;
  let top = -Infinity;
  let topPair = 0;
  for (let i = 0; i < M; i++) {
    for (let j = i + 1; j < M; j++, p++) {
      let v = 0;
      if (kind === "separation") {
        for (let f = 0; f < F; f++) v += Z[i * F + f] * Z[j * F + f];
        v /= temperature;
      } else {
        for (let f = 0; f < F; f++) {
          const d = Z[i * F + f] - Z[j * F + f];
          v += d * d;
        }
        v *= -temperature;
      }
      a[p] = v;
      if (v > top) {
        top = v;
        topPair = p;
      }
    }
  }
  // dL/da_ij: the softmax weight of the pair (log-mean-exp), or 1 at the closest pair (max).
  const weight = new Float64Array(pairs);
  let loss: number;
  if (kind === "uniform_max") {
    loss = top;
    weight[topPair] = 1;
  } else {
    let sum = 0;
    for (let q = 0; q < pairs; q++) sum += Math.exp(a[q] - top);
    loss = top + Math.log(sum) - Math.log(pairs);
    for (let q = 0; q < pairs; q++) weight[q] = Math.exp(a[q] - top) / sum;
    if (kind === "separation") {
      loss /= M;
      for (let q = 0; q < pairs; q++) weight[q] /= M;
    }
  }
  // Chain rule through a_ij: d<z_i,z_j>/dz_i = z_j; d(-t|z_i - z_j|^2)/dz_i = -2t (z_i - z_j).
  p = 0;
  for (let i = 0; i < M; i++) {
    for (let j = i + 1; j < M; j++, p++) {
      const w = weight[p];
      if (w === 0) continue;
      if (kind === "separation") {
        const c = w / temperature;
        for (let f = 0; f < F; f++) {
          grad[i * F + f] += c * Z[j * F + f];
          grad[j * F + f] += c * Z[i * F + f];
        }
      } else {
        const c = -2 * temperature * w;
        for (let f = 0; f < F; f++) {
          const d = Z[i * F + f] - Z[j * F + f];
          grad[i * F + f] += c * d;
          grad[j * F + f] -= c * d;
        }
      }
    }
  }
  return { loss, grad };
}

/** The smallest pairwise distance |z_i - z_j| between unit-normalized rows (the separation). */
export function minimumSeparation(Z: Float64Array, M: number, F: number): number {
  let best = Infinity;
  for (let i = 0; i < M; i++) {
    for (let j = i + 1; j < M; j++) {
      let d2 = 0;
      for (let f = 0; f < F; f++) {
        const d = Z[i * F + f] - Z[j * F + f];
        d2 += d * d;
      }
      if (d2 < best) best = d2;
    }
  }
  return Math.sqrt(best);
}
