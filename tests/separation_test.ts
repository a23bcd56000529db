// Separation functions (src/parts/separation/): hand-checked values from the formulas of UHN
// (MATH.md 7.2) and the HFYN DAM baselines (MATH.md 2.6, 7.8), ties, masks, the zero sum, and the
// float32 overflow case of MATH.md 2.6 (scores ~1.2e4 at D = 12288) giving finite weights.
import assert from "node:assert/strict";
import fc from "fast-check";
import { separations } from "../src/parts/registry.ts";
import { F32_MAX } from "../src/parts/separation/common.ts";

const { linear: identity, poly, exp, max } = separations;
const row = (...v: number[]) => Float64Array.from(v);

function close(actual: Float64Array, expected: number[], tol = 1e-12) {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]) <= tol, `p[${i}] = ${v}, want ${expected[i]}`)
  );
}

Deno.test("identity: p = s; sum-normalized p = s / Σs; zero sum gives zero weights", () => {
  close(identity.reference(row(2, -1, 3), { kind: "linear", normalize: "raw" }), [2, -1, 3]);
  close(identity.reference(row(2, -1, 3), { kind: "linear", normalize: "sum" }), [
    0.5,
    -0.25,
    0.75,
  ]);
  close(identity.reference(row(1, -1), { kind: "linear", normalize: "sum" }), [0, 0]);
  // classic HN energy −½ Σ s²
  assert.equal(identity.energy(row(2, -1, 3), { kind: "linear", normalize: "raw" }), -7);
});

Deno.test("poly: even n squares signs away, odd n keeps them; normalized form equals s^n / Σ s^n", () => {
  const s = row(2, -1, 0.5);
  close(poly.reference(s, { kind: "poly", n: 2, normalize: "raw" }), [4, 1, 0.25]);
  close(poly.reference(s, { kind: "poly", n: 3, normalize: "raw" }), [8, -1, 0.125]);
  close(poly.reference(s, { kind: "poly", n: 2, normalize: "sum" }), [
    4 / 5.25,
    1 / 5.25,
    0.25 / 5.25,
  ]);
  close(poly.reference(s, { kind: "poly", n: 3, normalize: "sum" }), [
    8 / 7.125,
    -1 / 7.125,
    0.125 / 7.125,
  ]);
  close(poly.reference(row(0, 0), { kind: "poly", n: 10, normalize: "sum" }), [0, 0]);
  assert.equal(poly.energy(s, { kind: "poly", n: 3, normalize: "raw" }), -7.125);
});

Deno.test("exp: unnormalized exp(scale s); normalized is softmax(scale s)", () => {
  const s = row(1, 2, -3);
  close(exp.reference(s, { kind: "exp", scale: 0.5, normalize: "raw" }), [
    Math.exp(0.5),
    Math.E,
    Math.exp(-1.5),
  ]);
  const z = Math.exp(0.5) + Math.E + Math.exp(-1.5);
  close(exp.reference(s, { kind: "exp", scale: 0.5, normalize: "sum" }), [
    Math.exp(0.5) / z,
    Math.E / z,
    Math.exp(-1.5) / z,
  ]);
});

Deno.test("max: one-hot on the argmax, ties to the lowest index, masked entries skipped", () => {
  close(max.reference(row(1, 3, 3, 2), { kind: "max", normalize: "raw" }), [0, 1, 0, 0]);
  close(max.reference(row(-Infinity, -5, -7), { kind: "max", normalize: "sum" }), [0, 1, 0]);
  close(max.reference(row(-Infinity, -Infinity), { kind: "max", normalize: "sum" }), [0, 0]);
  assert.equal(max.energy(row(1, 3, 3, 2), { kind: "max", normalize: "raw" }), -3);
});

Deno.test("masked (-Infinity) scores get weight exactly 0 in every separation", () => {
  const s = row(1, -Infinity, 2);
  for (const normalize of ["sum", "raw"] as const) {
    assert.equal(identity.reference(s, { kind: "linear", normalize })[1], 0);
    assert.equal(poly.reference(s, { kind: "poly", n: 2, normalize })[1], 0);
    assert.equal(exp.reference(s, { kind: "exp", scale: 1, normalize })[1], 0);
  }
});

Deno.test("overflow at D = 12288 (MATH.md 2.6): (s)^10 and exp(0.01 s) stay finite", () => {
  // unit-range pixels at D = 12288: dot scores reach ~1.2e4
  const s = row(12288, 11000, -12000, 5);
  for (const normalize of ["sum", "raw"] as const) {
    const p10 = poly.reference(s, { kind: "poly", n: 10, normalize });
    const pe = exp.reference(s, { kind: "exp", scale: 0.01, normalize });
    for (const v of [...p10, ...pe]) assert.ok(Number.isFinite(v) && Math.abs(v) <= F32_MAX);
  }
  // unnormalized: clamped to the largest float32, where the authors' float32 code gives inf
  assert.equal(poly.reference(s, { kind: "poly", n: 10, normalize: "raw" })[0], F32_MAX);
  assert.equal(exp.reference(s, { kind: "exp", scale: 0.01, normalize: "raw" })[0], F32_MAX);
  // normalized: the rescaled form is exact (no clamp): (11000/12288)^10 relative to the rest
  const p = poly.reference(s, { kind: "poly", n: 10, normalize: "sum" });
  const t = [1, (11000 / 12288) ** 10, (12000 / 12288) ** 10, (5 / 12288) ** 10];
  const z = t.reduce((a, b) => a + b);
  close(p, t.map((v) => v / z), 1e-15);
  assert.ok(Number.isFinite(poly.energy(s, { kind: "poly", n: 10, normalize: "raw" })));
});

Deno.test("property: normalized weights sum to 1 when the sum is nonzero; every output finite", () => {
  const scores = fc.array(fc.double({ min: -2e4, max: 2e4, noNaN: true }), {
    minLength: 1,
    maxLength: 12,
  });
  fc.assert(fc.property(scores, fc.integer({ min: 1, max: 12 }), (v, n) => {
    const s = Float64Array.from(v);
    const ws = [
      poly.reference(s, { kind: "poly", n, normalize: "sum" }),
      exp.reference(s, { kind: "exp", scale: 0.01, normalize: "sum" }),
      max.reference(s, { kind: "max", normalize: "sum" }),
      poly.reference(s, { kind: "poly", n, normalize: "raw" }),
      exp.reference(s, { kind: "exp", scale: 0.05, normalize: "raw" }),
    ];
    for (const w of ws) for (const x of w) assert.ok(Number.isFinite(x));
    for (const w of ws.slice(0, 3)) {
      // Signed weights (odd n) can cancel: the rounding of the sum is relative to sum |w|.
      const sum = w.reduce((a, b) => a + b, 0);
      const mass = w.reduce((a, b) => a + Math.abs(b), 0);
      if (sum !== 0) assert.ok(Math.abs(sum - 1) <= 1e-9 * Math.max(1, mass), `sum ${sum}`);
    }
  }));
});

// ---------------------------------------------------------------------------------------------
// The `separation` field: checker rules, the float64 retrieval by hand, the plan.

import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { loadReference, retrieveReference } from "../src/reference/interpreter.ts";
import { DEFAULT_LIMITS, gpuUnsupported, makePlan } from "../src/plan/plan.ts";

function model(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "m.hop");
  assert.deepEqual(diagnostics, []);
  return models[0];
}

function errors(fields: string): string[] {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "m.hop");
  assert.equal(models.length, 0, fields);
  return diagnostics.map((d) => `${d.line}:${d.col} ${d.message} | ${d.hint ?? ""}`);
}

const mat = (rows: number[][]): Mat => ({
  rows: rows.length,
  cols: rows[0].length,
  data: Float64Array.from(rows.flat()),
});

Deno.test("separation field: defaults, arguments and the IR", () => {
  assert.deepEqual(model("").separation, { kind: "fenchel_young" });
  assert.deepEqual(model("separation linear").separation, {
    kind: "linear",
    normalize: "raw",
  });
  assert.deepEqual(model("separation poly(n = 10, normalize = sum)").separation, {
    kind: "poly",
    n: 10,
    normalize: "sum",
  });
  assert.deepEqual(model("separation exp").separation, {
    kind: "exp",
    scale: 1,
    normalize: "raw",
  });
  assert.deepEqual(model("separation max post tanh beta 2").separation, {
    kind: "max",
    normalize: "raw",
  });
});

Deno.test("separation field: errors point at the value and say how to fix it", () => {
  assert.match(errors("separation poly")[0], /`poly` needs the argument `n`.*poly\(n = 10\)/);
  assert.match(errors("separation poly(n = 2.5)")[0], /n must be a whole number of at least 1/);
  assert.match(
    errors("separation polly(n = 3)")[0],
    /unknown separation `polly`.*did you mean `poly`/,
  );
  assert.match(errors("separation max(normalize = mean)")[0], /unknown normalize `mean`/);
  assert.match(
    errors("separation max entropy sparsemax")[0],
    /`entropy sparsemax` has no effect with `separation max`.*remove the `entropy` line/,
  );
  assert.match(
    errors("separation max similarity features")[0],
    /`separation max` cannot be combined with features similarity/,
  );
});

Deno.test("separation retrieval by hand: classic HN with tanh, normalized poly, max, exp", () => {
  const X = mat([[1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]);
  const Q = mat([[1, -1, 1, 1]]);
  const s = [0, 1, 2].map((i) =>
    [0, 1, 2, 3].reduce((a, j) => a + X.data[i * 4 + j] * Q.data[j], 0)
  );
  assert.deepEqual(s, [2, -2, 2]);
  const readout = (p: number[]) =>
    [0, 1, 2, 3].map((j) => p.reduce((a, w, i) => a + w * X.data[i * 4 + j], 0));
  const near = (got: Float64Array, want: number[]) =>
    want.forEach((w, j) => assert.ok(Math.abs(got[j] - w) < 1e-12, `${got[j]} != ${w}`));

  // Classic HN (HFYN): q <- tanh(beta X^T (X q)); beta only inside the tanh.
  const classic = retrieveReference(model("separation linear post tanh beta 0.5"), X, Q);
  near(classic.states.data, readout(s).map((v) => Math.tanh(0.5 * v)));
  // 3-Poly DAM, sum-normalized: p = s^3 / sum s^3 (odd n keeps the sign).
  const cubes = s.map((v) => v ** 3), sum = cubes.reduce((a, b) => a + b);
  const poly3 = retrieveReference(model("separation poly(n = 3, normalize = sum)"), X, Q);
  near(poly3.states.data, readout(cubes.map((c) => c / sum)));
  // Separations read the scores without beta, so beta changes nothing without post tanh.
  const beta4 = retrieveReference(model("separation poly(n = 3, normalize = sum) beta 4"), X, Q);
  near(beta4.states.data, [...poly3.states.data]);
  // max: one-hot on the argmax, ties to the lowest index (rows 0 and 2 both score 2).
  near(retrieveReference(model("separation max"), X, Q).states.data, readout([1, 0, 0]));
  // Exp DAM: p = exp(scale s), not normalized.
  const e = s.map((v) => Math.exp(0.25 * v));
  near(retrieveReference(model("separation exp(scale = 0.25)"), X, Q).states.data, readout(e));
  // Krotov-Hopfield energy E = -sum F(x_i . q) for the trace.
  const loaded = loadReference(model("separation poly(n = 3)"), X);
  assert.equal(loaded.energy(Q.data, 0), -(8 - 8 + 8));
});

Deno.test("separation retrieval: finite at D = 12288 where (x.q)^10 overflows float32", () => {
  const D = 12288;
  const X = { rows: 2, cols: D, data: new Float64Array(2 * D).fill(1) };
  for (let j = 0; j < D; j += 2) X.data[D + j] = -1;
  const Q = { rows: 1, cols: D, data: new Float64Array(D).fill(1) };
  for (const f of ["separation poly(n = 10)", "separation exp(scale = 0.01)"]) {
    const out = retrieveReference(model(f + " post tanh"), X, Q);
    assert.ok([...out.states.data].every(Number.isFinite), f);
    assert.ok(Math.abs(out.states.data[0] - 1) < 1e-12, f); // tanh of a clamped huge readout
  }
  const norm = retrieveReference(model("separation poly(n = 10, normalize = sum)"), X, Q);
  assert.ok(Math.abs(norm.states.data[0] - 1) < 1e-12); // all weight on row 0 (s = D vs 0)
});

Deno.test("separation on the GPU: lowered (no refusal), but not into the workgroup kernel", () => {
  assert.equal(gpuUnsupported(model("separation max")), null);
  assert.equal(gpuUnsupported(model("")), null);
  assert.throws(
    () =>
      makePlan(model("separation max"), { M: 64, D: 8 }, DEFAULT_LIMITS, { kernel: "workgroup" }),
    /blocked kernels only/,
  );
  const plan = makePlan(model("separation poly(n = 3)"), { M: 64, D: 8 });
  assert.equal(plan.kernel, "blocked");
  assert.equal(plan.blocked?.schedule, "threePass");
});
