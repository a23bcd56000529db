// A-Hop's adaptive similarity (src/fit/ahop.ts): footprints by hand, the order-statistics form of
// w^T F, the cross-entropy gradient against central finite differences, and the fit's promise on
// a small masked-retrieval task: it lowers the loss and retrieves at least as well as it starts.
import assert from "node:assert/strict";
import {
  ahopLoss,
  ahopScores,
  contextFootprints,
  contextSamples,
  fitAhop,
  footprints,
  geometricScales,
  initialAhop,
} from "../src/fit/ahop.ts";
import { gaussian } from "../src/parts/rng.ts";

Deno.test("footprints by hand: sorted per-dimension similarities, summed cumulatively", () => {
  const xi = [1, 2, 0], x = [1, 0, 3];
  const dist = new Float64Array(3), prod = new Float64Array(3);
  footprints(xi, 0, x, 3, dist, prod);
  // distances -(0)^2, -(2)^2, -(3)^2 sorted: 0, -4, -9; products 1, 0, 0.
  assert.deepEqual(Array.from(dist, (v) => v + 0), [0, -4, -13]); // + 0 turns -0 into 0
  assert.deepEqual(Array.from(prod), [1, 1, 1]);
  const out = new Float64Array(1);
  ahopScores({ w: Float64Array.from([1, 0, 0.5]), a: 2, b: -1 }, xi, 1, 3, x, out);
  assert.equal(out[0], 2 * (0 - 6.5) - (1 + 0.5));
});

Deno.test("w^T F is the weighted sum of order statistics with suffix sums of w", () => {
  const D = 9;
  const xi = Array.from({ length: D }, (_, d) => gaussian(1, 0, d));
  const x = Array.from({ length: D }, (_, d) => gaussian(2, 0, d));
  const w = Float64Array.from({ length: D }, (_, d) => gaussian(3, 0, d));
  const dist = new Float64Array(D), prod = new Float64Array(D);
  footprints(xi, 0, x, D, dist, prod);
  const u = xi.map((v, d) => -((v - x[d]) ** 2)).sort((p, q) => q - p);
  let direct = 0;
  for (let k = 0; k < D; k++) direct += w[k] * dist[k];
  let viaOrder = 0;
  for (let r = 0; r < D; r++) {
    let omega = 0;
    for (let k = r; k < D; k++) omega += w[k];
    viaOrder += u[r] * omega;
  }
  assert.ok(Math.abs(direct - viaOrder) < 1e-12);
});

function task(M: number, D: number) {
  const X = Float64Array.from({ length: M * D }, (_, k) => gaussian(9, Math.floor(k / D), k % D));
  return X;
}

Deno.test("cross-entropy gradient agrees with central finite differences", () => {
  const [M, D] = [5, 6];
  const X = task(M, D);
  const ctx = contextSamples(
    X,
    M,
    D,
    [{ kind: "noise", level: 0.5 }, { kind: "mask", level: 0.4 }],
    7,
    3,
  );
  const fp = contextFootprints(X, M, D, ctx);
  const params = initialAhop(D);
  params.w.forEach((_, k) => params.w[k] = 0.3 * gaussian(4, 0, k));
  params.b = 0.2;
  const beta = 1.5;
  const g = ahopLoss(params, fp, 7, M, D, ctx.sources, beta);
  const at = () => ahopLoss(params, fp, 7, M, D, ctx.sources, beta).loss;
  const h = 1e-6;
  const numeric = (set: (v: number) => void, v0: number) => {
    set(v0 + h);
    const up = at();
    set(v0 - h);
    const down = at();
    set(v0);
    return (up - down) / (2 * h);
  };
  for (let k = 0; k < D; k++) {
    const n = numeric((v) => params.w[k] = v, params.w[k]);
    assert.ok(Math.abs(n - g.w[k]) < 1e-6 * Math.max(1, Math.abs(n)), `w[${k}]: ${g.w[k]} vs ${n}`);
  }
  const na = numeric((v) => params.a = v, params.a);
  assert.ok(Math.abs(na - g.a) < 1e-6 * Math.max(1, Math.abs(na)), `a: ${g.a} vs ${na}`);
  const nb = numeric((v) => params.b = v, params.b);
  assert.ok(Math.abs(nb - g.b) < 1e-6 * Math.max(1, Math.abs(nb)), `b: ${g.b} vs ${nb}`);
});

Deno.test("the fit lowers the cross-entropy and does not retrieve worse than it starts", () => {
  const [M, D] = [12, 16];
  const X = task(M, D);
  const corruptions = [{ kind: "mask" as const, level: 0.6 }, { kind: "bias" as const, level: 1 }];
  const ctx = contextSamples(X, M, D, corruptions, 48, 5);
  const fit = fitAhop(X, M, D, ctx, { epochs: 60, lr: 0.1, beta: 1, seed: 0 });
  assert.ok(fit.losses.at(-1)! < fit.losses[0], `${fit.losses[0]} -> ${fit.losses.at(-1)}`);
  const test = contextSamples(X, M, D, corruptions, 96, 77);
  const accuracy = (p: ReturnType<typeof initialAhop>) => {
    let right = 0;
    const s = new Float64Array(M);
    for (let n = 0; n < 96; n++) {
      ahopScores(p, X, M, D, test.queries.subarray(n * D, (n + 1) * D), s);
      if (s.indexOf(Math.max(...s)) === test.sources[n]) right++;
    }
    return right / 96;
  };
  assert.ok(accuracy(fit.params) >= accuracy(initialAhop(D)));
  // Reproducible: the context set and the fit depend only on their seeds.
  const again = fitAhop(X, M, D, contextSamples(X, M, D, corruptions, 48, 5), {
    epochs: 60,
    lr: 0.1,
    beta: 1,
    seed: 0,
  });
  assert.deepEqual(Array.from(again.params.w), Array.from(fit.params.w));
  assert.throws(
    () =>
      fitAhop(X, M, D, { queries: ctx.queries, sources: Int32Array.from(ctx.sources, () => M) }, {
        epochs: 1,
        lr: 0.1,
        beta: 1,
        seed: 0,
      }),
    /names memory 12/,
  );
});

Deno.test("a multi-scale fit equals the dense similarity with w zero off its scales", () => {
  const [M, D] = [6, 20];
  const X = task(M, D);
  const ctx = contextSamples(X, M, D, [{ kind: "noise", level: 0.8 }], 18, 8);
  const scales = geometricScales(D);
  assert.deepEqual(scales, [1, 2, 3, 4, 6, 8, 11, 16, 20]);
  const fit = fitAhop(X, M, D, ctx, { epochs: 25, lr: 0.1, beta: 1, seed: 0, scales });
  fit.params.w.forEach((v, k) => {
    if (!scales.includes(k + 1)) assert.equal(v, 0, `w[${k}]`);
  });
  const dense = ahopLoss(fit.params, contextFootprints(X, M, D, ctx), 18, M, D, ctx.sources, 1);
  assert.ok(
    Math.abs(dense.loss - fit.losses.at(-1)!) < 1e-12,
    `${dense.loss} vs ${fit.losses.at(-1)}`,
  );
  assert.ok(fit.losses.at(-1)! < fit.losses[0]);
  assert.throws(
    () => fitAhop(X, M, D, ctx, { epochs: 1, lr: 0.1, beta: 1, seed: 0, scales: [2, 2] }),
    /must ascend within 1\.\.20/,
  );
});
