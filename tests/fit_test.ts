// The fit stage of the learned similarities (src/fit/): each separation loss's analytic gradient
// through the normalization and the linear map against central finite differences, hand values,
// the full-batch SGD's Gram-matrix update against plain SGD on W, and the properties the losses
// promise (fitting the max loss widens the closest pair; fits are reproducible from the seed).
import { asMapFit } from "../src/fit/store.ts";
import assert from "node:assert/strict";
import { minimumSeparation, separationLoss } from "../src/fit/losses.ts";
import {
  applyMap,
  type LinearMap,
  mapGradient,
  normalizeBackward,
  normalizeRows,
  randomMap,
} from "../src/fit/linear_map.ts";
import { fitMap, type FitSettings } from "../src/fit/fit.ts";
import { gaussian } from "../src/parts/rng.ts";

function data(M: number, D: number, seed: number): Float64Array {
  return Float64Array.from({ length: M * D }, (_, k) => gaussian(seed, Math.floor(k / D), k % D));
}

/** The loss as a function of the map, for finite differences. */
function lossOf(
  kind: "uniform_mean" | "uniform_max" | "separation",
  map: LinearMap,
  X: Float64Array,
  M: number,
  t: number,
) {
  const { Z } = normalizeRows(applyMap(map, X, M), M, map.outputs);
  return separationLoss(kind, Z, M, map.outputs, t).loss;
}

for (const kind of ["uniform_mean", "uniform_max", "separation"] as const) {
  Deno.test(`${kind}: dL/dW and dL/db agree with central finite differences`, () => {
    const [M, D, F] = [6, 5, 4];
    const X = data(M, D, 7);
    const map = randomMap(D, F, 3, 0.7, true);
    const t = kind === "separation" ? 0.3 : 2;
    const Phi = applyMap(map, X, M);
    const { Z, norms } = normalizeRows(Phi, M, F);
    const { grad } = separationLoss(kind, Z, M, F, t);
    const g = mapGradient(map, normalizeBackward(grad, Z, norms, M, F), X, M);
    const h = 1e-6;
    const check = (params: Float64Array, analytic: Float64Array, what: string) => {
      for (let k = 0; k < params.length; k++) {
        const keep = params[k];
        params[k] = keep + h;
        const up = lossOf(kind, map, X, M, t);
        params[k] = keep - h;
        const down = lossOf(kind, map, X, M, t);
        params[k] = keep;
        const numeric = (up - down) / (2 * h);
        assert.ok(
          Math.abs(numeric - analytic[k]) <= 1e-6 * Math.max(1, Math.abs(numeric)),
          `${what}[${k}]: analytic ${analytic[k]}, numeric ${numeric}`,
        );
      }
    };
    check(map.weight, g.weight, "W");
    check(map.bias!, g.bias!, "b");
  });
}

Deno.test("hand values: three unit vectors at known angles", () => {
  // z0 = e1, z1 = e2, z2 = -e1: squared distances 2 (0-1), 4 (0-2), 2 (1-2); dots 0, -1, 0.
  const Z = Float64Array.from([1, 0, 0, 1, -1, 0]);
  const t = 2;
  const mean = Math.log((2 * Math.exp(-2 * t) + Math.exp(-4 * t)) / 3);
  assert.ok(Math.abs(separationLoss("uniform_mean", Z, 3, 2, t).loss - mean) < 1e-12);
  assert.equal(separationLoss("uniform_max", Z, 3, 2, t).loss, -2 * t);
  const tau = 0.5;
  const sep = Math.log((2 * Math.exp(0) + Math.exp(-1 / tau)) / 3) / 3;
  assert.ok(Math.abs(separationLoss("separation", Z, 3, 2, tau).loss - sep) < 1e-12);
  assert.equal(minimumSeparation(Z, 3, 2), Math.SQRT2);
  // Far-apart pairs cannot overflow the log-sum-exp: tau = 1e-4 puts exp(1e4) in the sum.
  const big = separationLoss("separation", Float64Array.from([1, 0, 1, 0]), 2, 2, 1e-4);
  assert.ok(Number.isFinite(big.loss) && big.grad.every(Number.isFinite));
  assert.ok(Math.abs(big.loss - 1e4 / 2) < 1e-6);
});

Deno.test("a zero feature stays zero and passes no gradient", () => {
  const Phi = Float64Array.from([0, 0, 3, 4]);
  const { Z, norms } = normalizeRows(Phi, 2, 2);
  assert.deepEqual(Array.from(Z), [0, 0, 0.6, 0.8]);
  const d = normalizeBackward(Float64Array.from([1, 1, 0.8, -0.6]), Z, norms, 2, 2);
  assert.deepEqual(Array.from(d.subarray(0, 2)), [0, 0]);
  // (dz - (dz.z) z) / |phi| with dz orthogonal to z: dz / 5.
  assert.ok(Math.abs(d[2] - 0.16) < 1e-15 && Math.abs(d[3] + 0.12) < 1e-15);
});

const settings = (over: Partial<FitSettings>): FitSettings => ({
  loss: "uniform_max",
  temperature: 2,
  epochs: 20,
  lr: 1,
  optimizer: "sgd",
  schedule: "constant",
  batch: 16,
  fraction: 1,
  outputs: 6,
  bias: false,
  initStd: 1,
  seed: 5,
  ...over,
});

for (const loss of ["uniform_mean", "uniform_max"] as const) {
  for (const bias of [false, true]) {
    Deno.test(`full-batch SGD by the Gram matrix equals plain SGD on W (${loss}, bias ${bias})`, () => {
      const [M, D] = [7, 5];
      const X = data(M, D, 11);
      const s = settings({ loss, bias, schedule: "inverse_sqrt", epochs: 12, lr: 0.5 });
      const fast = fitMap(X, M, D, s);
      const map = randomMap(D, s.outputs, s.seed, s.initStd, s.bias);
      for (let e = 0; e < s.epochs; e++) {
        const Phi = applyMap(map, X, M);
        const { Z, norms } = normalizeRows(Phi, M, s.outputs);
        const { loss: l, grad } = separationLoss(loss, Z, M, s.outputs, s.temperature);
        assert.ok(Math.abs(l - fast.losses[e]) < 1e-9 * Math.max(1, Math.abs(l)), `epoch ${e}`);
        const g = mapGradient(map, normalizeBackward(grad, Z, norms, M, s.outputs), X, M);
        const lr = s.lr / Math.sqrt(e + 1);
        g.weight.forEach((v, k) => map.weight[k] -= lr * v);
        g.bias?.forEach((v, k) => map.bias![k] -= lr * v);
      }
      fast.map.weight.forEach((v, k) => assert.ok(Math.abs(v - map.weight[k]) < 1e-9, `W[${k}]`));
      fast.map.bias?.forEach((v, k) => assert.ok(Math.abs(v - map.bias![k]) < 1e-9, `b[${k}]`));
    });
  }
}

Deno.test("fitting the max loss widens the closest pair; the loss falls; the seed reproduces it", () => {
  const [M, D] = [12, 8];
  const X = data(M, D, 21);
  const s = settings({ epochs: 60, lr: 0.2, outputs: D });
  const fit = fitMap(X, M, D, s);
  assert.ok(fit.separation.after > fit.separation.before, JSON.stringify(fit.separation));
  assert.ok(fit.losses.at(-1)! < fit.losses[0]);
  assert.equal(fit.losses.length, s.epochs + 1);
  const again = fitMap(X, M, D, s);
  assert.deepEqual(Array.from(again.map.weight), Array.from(fit.map.weight));
  const other = fitMap(X, M, D, { ...s, seed: 6 });
  assert.notDeepEqual(Array.from(other.map.weight), Array.from(fit.map.weight));
});

Deno.test("Adam on mini-batches lowers the separation loss, reproducibly; fraction picks the fit set", () => {
  const [M, D] = [40, 10];
  const X = data(M, D, 31);
  const s = settings({
    loss: "separation",
    temperature: 0.1,
    optimizer: "adam",
    lr: 0.05,
    epochs: 15,
    batch: 8,
    bias: true,
    outputs: 12,
    initStd: Math.sqrt(2 / D),
  });
  const fit = fitMap(X, M, D, s);
  assert.equal(fit.losses.length, s.epochs);
  assert.ok(fit.losses.at(-1)! < fit.losses[0], fit.losses.join(", "));
  assert.deepEqual(Array.from(fitMap(X, M, D, s).map.weight), Array.from(fit.map.weight));
  assert.equal(fitMap(X, M, D, { ...s, fraction: 0.5, epochs: 1 }).fitted, 20);
  // A batch that would hold one memory (41 = 5 x 8 + 1) joins the previous one.
  const odd = data(41, D, 32);
  assert.equal(fitMap(odd, 41, D, { ...s, epochs: 1 }).losses.length, 1);
  assert.throws(() => fitMap(X, 1, D, s), /at least 2 memories/);
});

Deno.test("a saved fit loads back exactly; a fit that does not match its settings is refused", async () => {
  const { encodeFit, decodeFit } = await import("../src/fit/store.ts");
  const { encodeNpz } = await import("../src/io/npz.ts");
  const [M, D] = [6, 4];
  const X = data(M, D, 41);
  const s = settings({ bias: true, outputs: 3, epochs: 3 });
  const result = fitMap(X, M, D, s);
  const back = await decodeFit(encodeFit({ settings: s, result }), "fit.npz");
  assert.deepEqual(back.settings, s);
  assert.deepEqual(Array.from(asMapFit(back).result.map.weight), Array.from(result.map.weight));
  assert.deepEqual(Array.from(asMapFit(back).result.map.bias!), Array.from(result.map.bias!));
  assert.deepEqual(asMapFit(back).result.losses, result.losses);
  const W = { rows: 3, cols: 4, data: result.map.weight };
  const meta = (over: object) => ({
    "meta.json": new TextEncoder().encode(
      JSON.stringify({ format: "hopc-fit/1", settings: s, ...over }),
    ),
  });
  await assert.rejects(decodeFit(encodeNpz({ W }, meta({})), "a.npz"), /settings have a bias/);
  await assert.rejects(
    decodeFit(encodeNpz({ W }, meta({ settings: { ...s, bias: false, outputs: 5 } })), "a.npz"),
    /W has 3 rows but the settings say 5/,
  );
  await assert.rejects(decodeFit(encodeNpz({ W }), "a.npz"), /no meta\.json/);
});

Deno.test("Adam: the bias-corrected first step moves each entry by lr against its gradient's sign", async () => {
  const { Adam } = await import("../src/fit/adam.ts");
  const p = Float64Array.from([1, 2]), q = Float64Array.from([0]);
  const adam = new Adam([p, q], 0.1);
  adam.step([[3, -0.5], [0]]);
  assert.ok(Math.abs(p[0] - 0.9) < 1e-7 && Math.abs(p[1] - 2.1) < 1e-7, `${p}`);
  assert.equal(q[0], 0);
  // (eps = 1e-8 shortens each step by lr eps / |g|.) A second step with the same gradient:
  // m / sqrt(v) is still its sign, so again lr.
  adam.step([[3, -0.5], [0]]);
  assert.ok(Math.abs(p[0] - 0.8) < 1e-7 && Math.abs(p[1] - 2.2) < 1e-7, `${p}`);
});
