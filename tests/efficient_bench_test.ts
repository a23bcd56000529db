// The growth-exponent fit of bench/efficient.ts and the cosine metric of bench/lib/common.ts.
import assert from "node:assert/strict";
import { fitExponent } from "../bench/efficient.ts";
import { rowCosines } from "../bench/lib/common.ts";

Deno.test("fitExponent recovers the exponent of a power law, and 0 for a flat series", () => {
  const xs = [1024, 2048, 4096, 8192, 16384];
  for (const e of [0, 0.5, 1, 2]) {
    const fit = fitExponent(xs, xs.map((x) => 3 * x ** e));
    assert.ok(Math.abs(fit.exponent - e) < 1e-12, `${e}: ${fit.exponent}`);
  }
  // A fixed cost plus a linear part: the exponent lies between 0 and 1.
  const mixed = fitExponent(xs, xs.map((x) => 100 + x / 100));
  assert.ok(mixed.exponent > 0 && mixed.exponent < 1);
  assert.ok(mixed.r2 > 0.9);
});

Deno.test("rowCosines: 1 for equal rows, -1 for opposite rows, 0 for a zero row", () => {
  const a = [1, 2, 3, 1, 0, 0, 0, 0, 0];
  const b = [2, 4, 6, -1, 0, 0, 5, 5, 5];
  const c = rowCosines(a, b, 3, 3);
  assert.ok(Math.abs(c[0] - 1) < 1e-15);
  assert.ok(Math.abs(c[1] + 1) < 1e-15);
  assert.equal(c[2], 0);
});
