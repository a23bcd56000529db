// Tests of the benchmark's baselines (src/bench/): the unfused WebGPU pipeline against the float64
// reference, and the hand-written ONNX graph loaded and run by onnxruntime-web's WebGPU provider.
// GPU tests are skipped where no adapter exists; the ORT test is skipped (with the reason) where
// onnxruntime-web cannot be imported (no "onnxruntime-web" entry in deno.json's imports, or no
// npm registry) or its WebGPU provider does not start.
import assert from "node:assert/strict";
import { acquireDevice } from "../src/runtime/device.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import type { Mat } from "../src/parts/types.ts";
import {
  benchModel,
  type BenchNormalizer,
  gemmRegisterWgsl,
  gemmWgsl,
  loadUnfused,
  normalizerWgsl,
  unfusedUnsupported,
} from "../src/bench/unfused.ts";
import { buildRetrievalOnnx, createOrtRetrieval, loadOrt } from "../src/bench/ort.ts";
import { relativeError } from "../bench/lib/common.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const ctx = await acquireDevice({ required: false });

let ortSkip: string | null = null;
if (ctx === null) {
  ortSkip = "no WebGPU adapter";
} else {
  try {
    await loadOrt();
  } catch (e) {
    ortSkip = e instanceof Error ? e.message : String(e);
  }
}
if (ortSkip) console.warn(`bench_test: onnxruntime-web test skipped: ${ortSkip}`);

const gpuTest = (name: string, fn: () => Promise<void>, skip = ctx === null) =>
  Deno.test({ name, ignore: skip, sanitizeOps: false, sanitizeResources: false, fn });

/** Deterministic data with shapes that are multiples of nothing (tile edges get exercised). */
function data(M: number, D: number, B: number): { X: Mat; Q: Mat } {
  let s = 12345;
  const u = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5;
  const X = { rows: M, cols: D, data: Float64Array.from({ length: M * D }, u) };
  const Q = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) Q.data[b * D + d] = X.data[((3 * b) % M) * D + d] + 0.2 * u();
  }
  return { X, Q };
}

Deno.test("bench models are in the unfused pipeline's scope; others are refused", () => {
  for (const n of ["softmax", "1.5-entmax", "sparsemax", "2-normmax"] as BenchNormalizer[]) {
    assert.equal(unfusedUnsupported(benchModel(n, 2, 3)), null, n);
  }
  const m = benchModel("softmax", 1, 1);
  assert.match(unfusedUnsupported({ ...m, post: { kind: "tanh" } })!, /tanh/);
  assert.match(unfusedUnsupported({ ...m, entropy: { kind: "ksubsets", k: 2 } })!, /ksubsets/);
});

Deno.test("unfused WGSL: both GEMM variants and every normalizer are generated", () => {
  for (const t of [true, false]) {
    assert.match(gemmWgsl(t), /workgroupBarrier/);
    assert.doesNotMatch(gemmRegisterWgsl(t), /workgroupBarrier/);
    assert.doesNotMatch(gemmRegisterWgsl(t, true), /workgroupBarrier/);
    assert.match(gemmRegisterWgsl(t, true), /array<vec4<f32>>/);
  }
  assert.match(normalizerWgsl({ kind: "shannon" }), /exp\(/);
  assert.match(normalizerWgsl({ kind: "normmax", gamma: 2 }), /for \(var it = 0u; it < 30u/);
});

for (const normalizer of ["softmax", "sparsemax"] as BenchNormalizer[]) {
  for (const gemm of ["shared", "register"] as const) {
    gpuTest(`unfused ${normalizer} (${gemm} GEMM) matches the float64 reference`, async () => {
      // D = 10: scalar loads; D = 12 with M = 36: the register GEMMs' vec4 loads.
      for (const [M, D, B, steps] of [[37, 10, 5, 1], [37, 10, 5, 3], [36, 12, 5, 3]]) {
        const { X, Q } = data(M, D, B);
        // beta 4: soft enough that sparsemax keeps several memories on some queries.
        const model = benchModel(normalizer, 4, steps);
        const u = await loadUnfused(model, X, ctx!, { gemm });
        try {
          assert.equal(u.dispatchesPerCall, 3 * steps);
          const { states } = await u.retrieve(Q);
          const ref = retrieveReference(model, X, Q).states.data;
          assert.equal(states.length, ref.length);
          const e = relativeError(states, ref);
          assert.ok(e < 1e-4, `${normalizer} ${M}x${D}x${B}, ${steps} steps: relative error ${e}`);
          // A second call reuses the buffers and gives the same answer.
          assert.deepEqual((await u.retrieve(Q)).states, states);
        } finally {
          u.destroy();
        }
      }
    });
  }
}

Deno.test("the ONNX graph is a ModelProto with 3 nodes per step and X as initializer", () => {
  const X = new Float32Array(6 * 4).fill(0.5);
  const bytes = buildRetrievalOnnx({ X, M: 6, D: 4, B: 2, beta: 3, steps: 2 });
  assert.deepEqual([...bytes.subarray(0, 2)], [0x08, 0x08], "ir_version = 8 comes first");
  const text = new TextDecoder("latin1").decode(bytes);
  assert.equal(text.match(/Gemm/g)?.length, 2 * 2, "op type and node name per Gemm");
  assert.equal(text.match(/Softmax/g)?.length, 2 * 2);
  assert.ok(text.includes("transB") && text.includes("Q_out"));
  assert.ok(bytes.length > X.byteLength, "the raw memories are inside");
  assert.throws(() => buildRetrievalOnnx({ X, M: 5, D: 4, B: 2, beta: 1, steps: 1 }), /M·D/);
});

gpuTest(
  "onnxruntime-web (WebGPU EP) loads the chained graph and matches the reference",
  async () => {
    const { X, Q } = data(37, 10, 5);
    for (const steps of [1, 3]) {
      const model = benchModel("softmax", 2, steps);
      const ort = await createOrtRetrieval(
        { X: Float32Array.from(X.data), M: 37, D: 10, B: 5, beta: 2, steps },
        ctx!.device,
      );
      try {
        assert.ok(ort.sharedDevice, "ORT allocates on hopc's device");
        const states = await ort.run(Float32Array.from(Q.data));
        const ref = retrieveReference(model, X, Q).states.data;
        const e = relativeError(states, ref);
        assert.ok(e < 1e-4, `steps ${steps}: relative error ${e}`);
      } finally {
        await ort.release();
      }
    }
  },
  ortSkip !== null,
);
