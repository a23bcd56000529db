// Separation functions (src/parts/separation/): hand-checked values from the formulas of UHN
// (MATH.md 7.2) and the HFYN DAM baselines (MATH.md 2.6, 7.8), ties, masks, the zero sum, and the
// float32 overflow case of MATH.md 2.6 (scores ~1.2e4 at D = 12288) giving finite weights.
import assert from "node:assert/strict";
import fc from "fast-check";
import { separations } from "../src/parts/registry.ts";
import { F32_MAX } from "../src/parts/separation/common.ts";

const { identity, poly, exp, max } = separations;
const row = (...v: number[]) => Float64Array.from(v);

function close(actual: Float64Array, expected: number[], tol = 1e-12) {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]) <= tol, `p[${i}] = ${v}, want ${expected[i]}`)
  );
}

Deno.test("identity: p = s; sum-normalized p = s / Σs; zero sum gives zero weights", () => {
  close(identity.reference(row(2, -1, 3), { kind: "identity", normalize: "none" }), [2, -1, 3]);
  close(identity.reference(row(2, -1, 3), { kind: "identity", normalize: "sum" }), [
    0.5,
    -0.25,
    0.75,
  ]);
  close(identity.reference(row(1, -1), { kind: "identity", normalize: "sum" }), [0, 0]);
  // classic HN energy −½ Σ s²
  assert.equal(identity.energy(row(2, -1, 3), { kind: "identity", normalize: "none" }), -7);
});

Deno.test("poly: even n squares signs away, odd n keeps them; normalized form equals s^n / Σ s^n", () => {
  const s = row(2, -1, 0.5);
  close(poly.reference(s, { kind: "poly", n: 2, normalize: "none" }), [4, 1, 0.25]);
  close(poly.reference(s, { kind: "poly", n: 3, normalize: "none" }), [8, -1, 0.125]);
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
  assert.equal(poly.energy(s, { kind: "poly", n: 3, normalize: "none" }), -7.125);
});

Deno.test("exp: unnormalized exp(scale s); normalized is softmax(scale s)", () => {
  const s = row(1, 2, -3);
  close(exp.reference(s, { kind: "exp", scale: 0.5, normalize: "none" }), [
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
  close(max.reference(row(1, 3, 3, 2), { kind: "max", normalize: "none" }), [0, 1, 0, 0]);
  close(max.reference(row(-Infinity, -5, -7), { kind: "max", normalize: "sum" }), [0, 1, 0]);
  close(max.reference(row(-Infinity, -Infinity), { kind: "max", normalize: "sum" }), [0, 0]);
  assert.equal(max.energy(row(1, 3, 3, 2), { kind: "max", normalize: "none" }), -3);
});

Deno.test("masked (-Infinity) scores get weight exactly 0 in every separation", () => {
  const s = row(1, -Infinity, 2);
  for (const normalize of ["sum", "none"] as const) {
    assert.equal(identity.reference(s, { kind: "identity", normalize })[1], 0);
    assert.equal(poly.reference(s, { kind: "poly", n: 2, normalize })[1], 0);
    assert.equal(exp.reference(s, { kind: "exp", scale: 1, normalize })[1], 0);
  }
});

Deno.test("overflow at D = 12288 (MATH.md 2.6): (s)^10 and exp(0.01 s) stay finite", () => {
  // unit-range pixels at D = 12288: dot scores reach ~1.2e4
  const s = row(12288, 11000, -12000, 5);
  for (const normalize of ["sum", "none"] as const) {
    const p10 = poly.reference(s, { kind: "poly", n: 10, normalize });
    const pe = exp.reference(s, { kind: "exp", scale: 0.01, normalize });
    for (const v of [...p10, ...pe]) assert.ok(Number.isFinite(v) && Math.abs(v) <= F32_MAX);
  }
  // unnormalized: clamped to the largest float32, where the authors' float32 code gives inf
  assert.equal(poly.reference(s, { kind: "poly", n: 10, normalize: "none" })[0], F32_MAX);
  assert.equal(exp.reference(s, { kind: "exp", scale: 0.01, normalize: "none" })[0], F32_MAX);
  // normalized: the rescaled form is exact (no clamp): (11000/12288)^10 relative to the rest
  const p = poly.reference(s, { kind: "poly", n: 10, normalize: "sum" });
  const t = [1, (11000 / 12288) ** 10, (12000 / 12288) ** 10, (5 / 12288) ** 10];
  const z = t.reduce((a, b) => a + b);
  close(p, t.map((v) => v / z), 1e-15);
  assert.ok(Number.isFinite(poly.energy(s, { kind: "poly", n: 10, normalize: "none" })));
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
      poly.reference(s, { kind: "poly", n, normalize: "none" }),
      exp.reference(s, { kind: "exp", scale: 0.05, normalize: "none" }),
    ];
    for (const w of ws) for (const x of w) assert.ok(Number.isFinite(x));
    for (const w of ws.slice(0, 3)) {
      const sum = w.reduce((a, b) => a + b, 0);
      if (sum !== 0) assert.ok(Math.abs(sum - 1) < 1e-9, `sum ${sum}`);
    }
  }));
});
