// Values apart from the keys and clamped dimensions (src/extras.ts): the GPU (the blocked kernels'
// extra values pass, the finish pass's clamp) against the float64 reference for every entropy,
// with masks and posts, several steps and `until`; hand-checked properties of the reference (the
// values readout is V^T p of the final weights; clamped dims never move; `until` counts the free
// dims only).
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { HopError } from "../src/diagnostics.ts";
import { checkExtras } from "../src/extras.ts";
import { gpuTest } from "./helpers/gpu.ts";
import { traceOnGpu } from "../src/runtime/trace.ts";

function modelOf(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "test.hop");
  assert.deepEqual(diagnostics, []);
  return models[0];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Unit-norm keys, queries near them, values of their own width. */
function data(M: number, D: number, B: number, Dv: number, seed: number) {
  const r = rng(seed);
  const X: Mat = { rows: M, cols: D, data: new Float64Array(M * D) };
  for (let i = 0; i < M; i++) {
    let n = 0;
    for (let d = 0; d < D; d++) n += (X.data[i * D + d] = r() - 0.5) ** 2;
    for (let d = 0; d < D; d++) X.data[i * D + d] /= Math.sqrt(n);
  }
  const Q: Mat = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) Q.data[b * D + d] = X.data[(b % M) * D + d] + 0.3 * (r() - 0.5);
  }
  const V: Mat = { rows: M, cols: Dv, data: new Float64Array(M * Dv).map(() => 2 * r() - 1) };
  const C: Mat = { rows: B, cols: D, data: new Float64Array(B * D).map(() => r() < 0.4 ? 1 : 0) };
  return { X, Q, V, C };
}

function maxRelError(gpu: ArrayLike<number>, ref: Float64Array): number {
  let scale = 0, err = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    err = Math.max(err, Math.abs(gpu[i] - ref[i]));
  }
  return err / Math.max(scale, 1e-30);
}

const ENTROPIES = [
  "shannon",
  "tsallis(alpha = 1.5)",
  "sparsemax",
  "normmax(gamma = 2)",
  "ksubsets(k = 3)",
  "softmax1",
];
const VARIANTS = [
  "steps 3",
  "post l2  steps 4",
  "mask topk(k = 5)  steps 2",
  "similarity cosine  post layernorm  steps 3",
  "mask random(keep = 0.5, seed = 3)  steps 2",
];

for (const entropy of ENTROPIES) {
  gpuTest(`values: GPU = reference, entropy ${entropy}, with masks and posts`, async (ctx) => {
    for (const [k, variant] of VARIANTS.entries()) {
      const model = modelOf(`entropy ${entropy}  beta 4  ${variant}`);
      const { X, Q, V } = data(40 + 17 * k, 13, 9, 5 + k, 11 + k);
      const ref = retrieveReference(model, X, Q, undefined, { values: V });
      assert.equal(ref.states.rows, Q.rows);
      assert.equal(ref.states.cols, V.cols);
      const r = await load(model, X, ctx);
      try {
        const out = await r.retrieve(Q, { values: V, weights: true });
        assert.equal(out.states.length, Q.rows * V.cols);
        const err = maxRelError(out.states, ref.states.data);
        assert.ok(err < 1e-4, `${entropy} ${variant}: values readout error ${err}`);
        const wErr = maxRelError(out.weights!, ref.weights.data);
        assert.ok(wErr < 1e-4, `${entropy} ${variant}: weights error ${wErr}`);
      } finally {
        r.destroy();
      }
    }
  });
}

gpuTest(
  "values: M past the loop budget per dispatch is read in ranges (budget pinned low)",
  async (ctx) => {
    for (const choices of [{ loopBudget: 2000 }, {}] as RunChoices[]) {
      const model = modelOf("entropy sparsemax  beta 8  steps 2");
      const { X, Q, V } = data(3000, 8, 5, 3, 5);
      const ref = retrieveReference(model, X, Q, undefined, { values: V });
      const r = await load(model, X, ctx, choices);
      try {
        const out = await r.retrieve(Q, { values: V });
        assert.ok(maxRelError(out.states, ref.states.data) < 1e-4);
      } finally {
        r.destroy();
      }
    }
  },
);

gpuTest("clamp: GPU = reference with fixed steps and until, every entropy", async (ctx) => {
  for (const [k, entropy] of ENTROPIES.entries()) {
    for (const steps of ["steps 4", "steps until(tol = 1e-4, max = 30)"]) {
      for (const post of ["", "post l2", "post tanh"]) {
        const model = modelOf(`entropy ${entropy}  beta 3  ${post}  ${steps}`);
        const { X, Q, C } = data(50, 11, 7, 2, 31 + k);
        const ref = retrieveReference(model, X, Q, undefined, { clamp: C });
        const r = await load(model, X, ctx);
        try {
          const out = await r.retrieve(Q, { clamp: C });
          const err = maxRelError(out.states, ref.states.data);
          assert.ok(err < 1e-4, `${entropy} ${post} ${steps}: clamp error ${err}`);
          assert.deepEqual(Array.from(out.stepsRun), ref.stepsRun, `${entropy} ${post} ${steps}`);
          // The clamped dims hold the given values exactly (float32 of them on the GPU).
          for (let i = 0; i < C.data.length; i++) {
            if (C.data[i] === 1) assert.equal(out.states[i], Math.fround(Q.data[i]));
          }
        } finally {
          r.destroy();
        }
      }
    }
  }
});

gpuTest("clamp [1, D] and values together, on the fused schedule too", async (ctx) => {
  const model = modelOf("entropy shannon  beta 5  steps until(tol = 1e-5, max = 20)");
  const { X, Q, V } = data(64, 16, 6, 4, 77);
  const C: Mat = { rows: 1, cols: 16, data: new Float64Array(16).map((_, d) => d < 8 ? 1 : 0) };
  const ref = retrieveReference(model, X, Q, undefined, { values: V, clamp: C });
  for (const choices of [{}, { blocked: { schedule: "fused" } }] as RunChoices[]) {
    const r = await load(model, X, ctx, choices);
    try {
      const out = await r.retrieve(Q, { values: V, clamp: C });
      assert.ok(maxRelError(out.states, ref.states.data) < 1e-4, JSON.stringify(choices));
      assert.deepEqual(Array.from(out.stepsRun), ref.stepsRun);
    } finally {
      r.destroy();
    }
  }
});

Deno.test("reference: values readout is V^T p of the final weights; clamped dims never move", () => {
  const model = modelOf("entropy tsallis(alpha = 1.5)  beta 4  steps 3");
  const { X, Q, V, C } = data(30, 7, 4, 3, 9);
  const plain = retrieveReference(model, X, Q);
  const withValues = retrieveReference(model, X, Q, undefined, { values: V });
  // The iteration runs over the keys: the weights are those of the plain run.
  assert.deepEqual(withValues.weights.data, plain.weights.data);
  for (let b = 0; b < Q.rows; b++) {
    for (let j = 0; j < V.cols; j++) {
      let z = 0;
      for (let i = 0; i < X.rows; i++) z += plain.weights.data[b * X.rows + i] * V.data[i * 3 + j];
      assert.ok(Math.abs(withValues.states.data[b * 3 + j] - z) < 1e-12);
    }
  }
  const clamped = retrieveReference(model, X, Q, undefined, { clamp: C });
  for (let i = 0; i < C.data.length; i++) {
    if (C.data[i] === 1) assert.equal(clamped.states.data[i], Q.data[i]);
  }
  // An all-free mask changes nothing; an all-fixed one returns the queries.
  const free = { rows: 1, cols: 7, data: new Float64Array(7) };
  assert.deepEqual(retrieveReference(model, X, Q, undefined, { clamp: free }).states, plain.states);
  const all = { rows: 1, cols: 7, data: new Float64Array(7).fill(1) };
  const fixed = retrieveReference(model, X, Q, undefined, { clamp: all });
  assert.deepEqual(fixed.states.data, Q.data);
});

Deno.test("reference: until measures the change after clamping", () => {
  const model = modelOf("entropy shannon  beta 2  steps until(tol = 1e-3, max = 50)");
  const { X, Q } = data(20, 6, 3, 2, 4);
  const all = { rows: 1, cols: 6, data: new Float64Array(6).fill(1) };
  // Every dim fixed: the first step moves nothing, so every query stops after one step.
  assert.deepEqual(retrieveReference(model, X, Q, undefined, { clamp: all }).stepsRun, [1, 1, 1]);
});

Deno.test("extras: wrong shapes and values are errors naming the file and the value", () => {
  const model = modelOf("entropy shannon");
  const shapes = { M: 4, D: 3, B: 2 };
  const names = { values: "V.npy", clamp: "C.npy" };
  const V = (rows: number, cols: number, v = 0) => ({
    rows,
    cols,
    data: new Float64Array(rows * cols).fill(v),
  });
  const cases: [Parameters<typeof checkExtras>[2], RegExp][] = [
    [{ values: V(3, 2) }, /values have shape \[3, 2\] but there are M = 4 memories/],
    [{ clamp: V(2, 4) }, /clamp has shape \[2, 4\] but the queries are \[2, 3\]/],
    [{ clamp: V(3, 3) }, /clamp has shape \[3, 3\]/],
    [{ clamp: V(1, 3, 0.5) }, /clamp holds 0.5 at row 0, column 0/],
    [{ values: V(4, 2, NaN) }, /NaN at row 0, column 0/],
  ];
  for (const [extras, message] of cases) {
    assert.throws(() => checkExtras(model, shapes, extras, names), (e: unknown) => {
      assert.ok(e instanceof HopError);
      const d = e.diagnostics[0];
      assert.match(d.message, message);
      assert.ok(d.file === "V.npy" || d.file === "C.npy");
      return true;
    });
  }
  checkExtras(model, shapes, { values: V(4, 1), clamp: V(1, 3, 1) }, names);
  const features = modelOf("similarity features(count = 16)");
  assert.throws(() => checkExtras(features, shapes, { values: V(4, 1) }), /per-memory weights/);
});

gpuTest(
  "--trace on the GPU with clamp and values: one step at a time, as the reference",
  async (ctx) => {
    const model = modelOf("entropy sparsemax  beta 4  post l2  steps until(tol = 1e-4, max = 12)");
    const { X, Q, V, C } = data(35, 9, 5, 4, 21);
    const ref = retrieveReference(model, X, Q, undefined, { values: V, clamp: C });
    const out = await traceOnGpu(model, X, Q, ctx, { values: V, clamp: C });
    assert.ok(maxRelError(out.states.data, ref.states.data) < 1e-4);
    assert.deepEqual(out.stepsRun, ref.stepsRun);
  },
);

gpuTest(
  "library (mod.ts): load({ values }), retrieve({ clamp }), reference({ values, clamp })",
  async (ctx) => {
    const lib = await import("../mod.ts");
    const compiled = lib.compile("model m { entropy sparsemax  beta 4  steps 3 }");
    assert.ok(compiled.ok);
    const model = compiled.model("m");
    const { X, Q, V } = data(25, 8, 3, 2, 8);
    const clamp = {
      rows: 1,
      cols: 8,
      data: new Float64Array(8).map((_, d) => d % 3 === 0 ? 1 : 0),
    };
    const memory = await lib.load(ctx, model, X, { values: V });
    const got = await memory.retrieve(Q, { clamp });
    memory.destroy();
    const want = lib.reference(model, X, Q, { values: V, clamp }).states;
    assert.deepEqual([got.states.rows, got.states.cols], [3, 2]);
    assert.ok(maxRelError(got.states.data, want.data) < 1e-4);
    await assert.rejects(
      lib.load(ctx, model, X, { values: { rows: 24, cols: 2, data: new Float64Array(48) } }),
      /values have shape \[24, 2\]/,
    );
  },
);

gpuTest(
  "values with memories split across bindings; values past one binding refused",
  async (ctx) => {
    // A binding of 64 KiB holds 256 rows at D = 64: 1000 keys span 4 buffers.
    const limits = { ...ctx.limits, maxStorageBufferBindingSize: 65536 };
    const model = modelOf("entropy tsallis(alpha = 1.5)  beta 8  steps 2");
    const { X, Q, V } = data(1000, 64, 8, 10, 3);
    const r = await load(model, X, ctx, { limits });
    try {
      assert.ok(r.blockedPlan!.rowsPerChunk < 1000, "the keys span several buffers");
      const ref = retrieveReference(model, X, Q, undefined, { values: V });
      const out = await r.retrieve(Q, { values: V });
      assert.ok(maxRelError(out.states, ref.states.data) < 1e-4);
      const wide = data(1000, 64, 8, 20, 3).V; // 80,000 bytes
      await assert.rejects(
        () => r.retrieve(Q, { values: wide }),
        /values \[1000, 20\] need 80000 bytes, over the storage binding limit of 65536/,
      );
    } finally {
      r.destroy();
    }
  },
);

Deno.test({
  name: "the values pass validates with Tint (the browsers' WGSL compiler)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { validateTint } = await import("../src/runtime/validate.ts");
    const { VALUES_WGSL } = await import("../src/runtime/blocked/values.ts");
    assert.deepEqual(await validateTint(VALUES_WGSL), []);
  },
});

gpuTest(
  "values with until: queries that stop at different steps keep their last weights",
  async (ctx) => {
    for (const entropy of ["shannon", "sparsemax", "tsallis(alpha = 1.5)"]) {
      const model = modelOf(`entropy ${entropy}  beta 2  steps until(tol = 1e-3, max = 40)`);
      const { X, Q, V } = data(30, 6, 12, 3, 13);
      for (let b = 0; b < Q.rows; b++) { // some queries start on a memory, some far from all
        for (let d = 0; d < 6; d++) Q.data[b * 6 + d] *= b % 3 === 0 ? 0.05 : 1 + b / 4;
      }
      const ref = retrieveReference(model, X, Q, undefined, { values: V });
      assert.ok(new Set(ref.stepsRun).size > 1, `${entropy}: steps ${ref.stepsRun}`);
      const r = await load(model, X, ctx);
      try {
        const out = await r.retrieve(Q, { values: V });
        assert.deepEqual(Array.from(out.stepsRun), ref.stepsRun);
        assert.ok(maxRelError(out.states, ref.states.data) < 1e-4, entropy);
      } finally {
        r.destroy();
      }
    }
  },
);

gpuTest("clamp on the projected families: features and continuous memory", async (ctx) => {
  for (
    const fields of [
      "similarity features(count = 64)  beta 2  steps 3",
      "memory continuous(functions = 8)  beta 4  steps 3",
      "memory continuous(basis = gaussian, functions = 8)  entropy sparsemax  beta 4  steps 2",
    ]
  ) {
    const model = modelOf(fields);
    const { X, Q, C } = data(40, 8, 5, 2, 17);
    const ref = retrieveReference(model, X, Q, undefined, { clamp: C });
    const r = await load(model, X, ctx);
    try {
      const out = await r.retrieve(Q, { clamp: C });
      assert.ok(maxRelError(out.states, ref.states.data) < 1e-4, fields);
    } finally {
      r.destroy();
    }
  }
});
