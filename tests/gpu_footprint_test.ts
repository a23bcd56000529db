// A-Hop's footprint scores on the GPU (src/runtime/footprint.ts) against the float64 reference
// (src/fit/ahop.ts ahopScores): several D (padding to a power of two, one entry, D = 784), ties,
// memories over several dispatches, and the plan's refusals and loop budget.
import assert from "node:assert/strict";
import { ahopScores } from "../src/fit/ahop.ts";
import { footprintPlan, footprintScores, suffixSums } from "../src/runtime/footprint.ts";
import { gaussian } from "../src/parts/rng.ts";
import { gpuTest } from "./helpers/gpu.ts";

const f32 = (v: number) => Math.fround(v);
const rows = (n: number, D: number, seed: number, ties = false) =>
  Float64Array.from({ length: n * D }, (_, k) => {
    const v = gaussian(seed, Math.floor(k / D), k % D);
    return f32(ties ? Math.round(v * 2) / 2 : v);
  });

for (
  const [D, M, B, ties, perDispatch] of [
    [1, 4, 2, false, 0],
    [5, 9, 3, false, 0],
    [100, 37, 4, true, 0],
    [784, 12, 2, false, 5],
  ] as const
) {
  gpuTest(
    `footprint scores = float64 at D = ${D}, M = ${M}, B = ${B}${ties ? ", ties" : ""}${
      perDispatch ? `, ${perDispatch} memories per dispatch` : ""
    }`,
    async (ctx) => {
      const X = rows(M, D, 1, ties);
      const Q = rows(B, D, 2, ties);
      const w = Float64Array.from({ length: D }, (_, k) => f32(gaussian(3, 0, k) / D));
      const params = { w, a: 0.75, b: -0.5 };
      const limits = {
        ...ctx.limits,
        ...(perDispatch ? { maxComputeWorkgroupsPerDimension: perDispatch } : {}),
      };
      const got = await footprintScores(ctx.device, limits, X, M, Q, B, D, params);
      const want = new Float64Array(M);
      for (let b = 0; b < B; b++) {
        ahopScores(params, X, M, D, Q.subarray(b * D, (b + 1) * D), want);
        // f32 sums of D terms: error relative to the sum of the terms' magnitudes.
        const scale = Math.max(...want.map(Math.abs), 1e-3);
        for (let i = 0; i < M; i++) {
          assert.ok(
            Math.abs(got[b * M + i] - want[i]) <= 2e-5 * scale,
            `query ${b}, memory ${i}: GPU ${got[b * M + i]}, float64 ${want[i]}`,
          );
        }
      }
    },
  );
}

Deno.test("footprint plan: power-of-two padding, its loop budget, and a clear refusal", () => {
  const limits = {
    maxComputeWorkgroupSizeX: 256,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBufferBindingSize: 2 ** 27,
  };
  const p = footprintPlan(784, 70000, limits);
  assert.equal(p.P, 1024);
  assert.equal(p.memoriesPerDispatch, 65535);
  assert.ok(p.loopIterations < 65535 / 100, `${p.loopIterations}`);
  assert.equal(footprintPlan(1, 1, limits).P, 2);
  assert.throws(
    () => footprintPlan(3000, 1, limits),
    /workgroup memory.*D <= 1024 \(D is padded to a power of two\) or --device cpu/,
  );
  assert.deepEqual(Array.from(suffixSums([1, 2, 3])), [6, 5, 3]);
});

Deno.test({
  name: "footprint kernels validate with Tint (Chrome's compiler) under WebGPU's default limits",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { validateTint } = await import("../src/runtime/validate.ts");
    const { footprintWgsl } = await import("../src/runtime/footprint.ts");
    const limits = {
      maxComputeWorkgroupSizeX: 256,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupStorageSize: 16384,
      maxComputeWorkgroupsPerDimension: 65535,
      maxStorageBufferBindingSize: 2 ** 27,
    };
    for (const D of [1, 3, 64, 784, 1024]) {
      const messages = await validateTint(footprintWgsl(footprintPlan(D, 10, limits)), {
        entryPoint: "footprint_scores",
      });
      assert.deepEqual(messages, [], `D = ${D}: ${JSON.stringify(messages)}`);
    }
  },
});
