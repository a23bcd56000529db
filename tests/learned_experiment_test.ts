// The pieces of `deno task experiment:learned` (bench/learned.ts): U-Hop's clamped error and the
// corruptions (torch.dropout's scaling, masking, noise, bias) by hand.
import assert from "node:assert/strict";
import { clampedErrors, corrupt } from "../bench/learned.ts";

Deno.test("clamped error: sum over pixels of (clamp(x) - clamp(out))^2 per query", () => {
  const X = Float64Array.from([0, 1, 0.5, 0.5]);
  const out = [-3, 2, 0.25, 1];
  assert.deepEqual(clampedErrors(X, out, 2, 2), [0, 0.0625 + 0.25]);
});

Deno.test("dropout zeroes about half and doubles the rest; mask zeroes; bias shifts; noise is seeded", () => {
  const D = 784;
  const X = new Float64Array(4 * D).fill(0.25);
  const dropped = corrupt(X, D, { kind: "dropout", level: 0.5 }, 1);
  assert.ok(dropped.every((v) => v === 0 || v === 0.5));
  const zeros = dropped.filter((v) => v === 0).length / dropped.length;
  assert.ok(zeros > 0.45 && zeros < 0.55, `${zeros}`);
  const masked = corrupt(X, D, { kind: "mask", level: 0.5 }, 1);
  assert.deepEqual(masked.map((v) => v === 0 ? 0 : 1), dropped.map((v) => v === 0 ? 0 : 1));
  assert.ok(masked.every((v) => v === 0 || v === 0.25));
  assert.ok(corrupt(X, D, { kind: "bias", level: 0.3 }, 1).every((v) => v === 0.25 + 0.3));
  const noisy = corrupt(X, D, { kind: "noise", level: 0.3 }, 2);
  assert.deepEqual(noisy, corrupt(X, D, { kind: "noise", level: 0.3 }, 2));
  assert.notDeepEqual(noisy, corrupt(X, D, { kind: "noise", level: 0.3 }, 3));
});
