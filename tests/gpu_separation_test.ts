// Separation functions on the GPU (src/parts/separation/ lowered into the blocked kernels' weights
// pass, src/runtime/blocked/wgsl_rows.ts) against the float64 reference: every separation with
// and without sum-normalization, crossed with similarities, posts, masks, steps and plan shapes;
// the float32 overflow cases of MATH.md 2.6 (finite, equal to the reference's clamped answer);
// and the error, not an Inf, where a state itself outgrows float32.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { gpuTest } from "./helpers/gpu.ts";

function model(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "m.hop");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], fields);
  return models[0];
}

/** Deterministic data: M memories of D in [-1, 1] (or [0, 1]), queries near memories 0..B-1. */
function data(M: number, D: number, B: number, seed: number, positive = false) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const v = () => (positive ? rnd() : 2 * rnd() - 1);
  const X: Mat = { rows: M, cols: D, data: Float64Array.from({ length: M * D }, v) };
  const Q: Mat = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < D; j++) Q.data[b * D + j] = X.data[b * D + j] + 0.3 * v();
  }
  return { X, Q };
}

async function agree(m: Model, X: Mat, Q: Mat, choices: RunChoices, what: string, tol = 1e-4) {
  const r = await load(m, X, undefined, choices);
  try {
    const out = await r.retrieve(Q, { weights: true });
    const ref = retrieveReference(m, X, Q);
    let err = 0, big = 0, werr = 0, wbig = 0;
    for (let i = 0; i < Q.rows * Q.cols; i++) {
      assert.ok(Number.isFinite(out.states[i]), `${what}: state ${i} is ${out.states[i]}`);
      err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
      big = Math.max(big, Math.abs(ref.states.data[i]));
    }
    for (let i = 0; i < ref.weights.data.length; i++) {
      werr = Math.max(werr, Math.abs(out.weights![i] - ref.weights.data[i]));
      wbig = Math.max(wbig, Math.abs(ref.weights.data[i]));
    }
    assert.ok(err <= tol * Math.max(big, 1e-30), `${what}: state error ${err} of ${big}`);
    assert.ok(werr <= tol * Math.max(wbig, 1e-30), `${what}: weight error ${werr} of ${wbig}`);
    // Zero weights stay exactly zero (max is one-hot; masked memories get nothing).
    for (let i = 0; i < ref.weights.data.length; i++) {
      if (ref.weights.data[i] === 0) assert.equal(Math.abs(out.weights![i]), 0, `${what}: ${i}`);
    }
    return out;
  } finally {
    r.destroy();
  }
}

const SEPARATIONS = [
  "linear",
  "linear(normalize = sum)",
  "poly(n = 3)",
  "poly(n = 4, normalize = sum)",
  "poly(n = 10, normalize = sum)",
  "exp(scale = 2)",
  "exp(scale = 4, normalize = sum)",
  "max",
];

const PLANS: { label: string; choices: RunChoices }[] = [
  { label: "rules", choices: {} },
  {
    label: "threePass q4 r2",
    choices: { blocked: { schedule: "threePass", queriesPerThread: 4, rowBlock: 2 } },
  },
  {
    label: "tiled q8 r4 wg16",
    choices: {
      blocked: { tile: "workgroup", queriesPerThread: 8, rowBlock: 4, workgroupSize: 16 },
    },
  },
  // M split across invocations and merged by the finish pass (with its scale).
  { label: "parallel splits", choices: { blocked: { parallelism: 4096 } } },
];

gpuTest("GPU agrees with float64: every separation x dot, one step, every plan shape", async () => {
  const { X, Q } = data(150, 37, 9, 3);
  for (const sep of SEPARATIONS) {
    for (const { label, choices } of PLANS) {
      await agree(model(`separation ${sep}`), X, Q, choices, `${sep} [${label}]`);
    }
  }
});

gpuTest("GPU agrees with float64: separations x similarities x posts x steps x masks", async () => {
  const { X, Q } = data(96, 20, 6, 11);
  const { X: Xp, Q: Qp } = data(96, 20, 6, 12, true);
  const cases: [string, boolean][] = [
    ["separation linear post tanh beta 0.5 steps 3", false], // HFYN's Classic HN
    ["separation poly(n = 10) post tanh beta 0.01 steps 2", false], // HFYN's 10-Poly DAM
    ["separation exp(scale = 0.5) post tanh beta 0.2 steps 2", false], // HFYN's Exp DAM
    ["separation poly(n = 2, normalize = sum) similarity euclidean post l2", false],
    ["separation exp(scale = 3, normalize = sum) similarity cosine post layernorm steps 2", false],
    ["separation max similarity manhattan steps until(tol = 1e-6, max = 5)", false],
    ["separation exp(normalize = sum, scale = 8) similarity kl", true],
    ["separation max similarity reciprocal_euclidean mask topk(k = 5)", false],
    ["separation poly(n = 3, normalize = sum) mask topk(k = 7) post tanh", false],
    ["separation linear(normalize = sum) mask random(keep = 0.5, seed = 3) post l2", false],
    ["separation exp(scale = 1) mask random(keep = 0.3, seed = 1)", false],
  ];
  for (const [fields, positive] of cases) {
    await agree(model(fields), positive ? Xp : X, positive ? Qp : Q, {}, fields);
  }
});

gpuTest(
  "GPU overflow cases of MATH.md 2.6: finite, as the reference's clamped answer",
  async () => {
    // MATH.md 2.6's hazard (D = 12288, scores about 1.2e4) at a D this adapter's workgroup memory
    // takes: entries +-3 at D = 1024 give scores up to 9216, so (x.q)^10 = 4.4e39 and
    // exp(0.05 * 9216) = 1e200 overflow float32. The weights clamp to F32_MAX, the readout
    // goes through the power-of-two scale, and tanh makes it +-1.
    const D = 1024, M = 4;
    const X: Mat = { rows: M, cols: D, data: new Float64Array(M * D) };
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < D; j++) X.data[i * D + j] = ((i * 7 + j * 3) % 5) < 2 + i % 2 ? 3 : -3;
    }
    const Q: Mat = { rows: 2, cols: D, data: X.data.slice(0, 2 * D) };
    for (
      const f of [
        "separation poly(n = 10) post tanh",
        "separation exp(scale = 0.05) post tanh",
        // l2 normalizes the inputs, so only a distance scores far from 0: -sum |x - q| of unit
        // rows reaches about -64 here, (-64)^12 = 4.7e21, and the readout's sum of squares (1e43)
        // would overflow float32: the post scales the readout down by a power of two first.
        "separation poly(n = 12) similarity manhattan post l2",
        "separation poly(n = 10, normalize = sum) post tanh",
        "separation exp(scale = 0.05, normalize = sum)",
      ]
    ) {
      const out = await agree(model(f), X, Q, {}, f, 2e-4);
      assert.ok([...out.states].every(Number.isFinite), f);
    }
  },
);

gpuTest("a state past float32's range is an error naming the fix, never an Inf", async () => {
  // Identity post: step 1's weights clamp to F32_MAX and so does its readout, with mixed signs;
  // step 2's scores x . q then overflow float32 (+Inf and -Inf terms). The float64 reference
  // goes on with finite numbers; the GPU must say so instead of handing back Inf or NaN.
  const D = 64;
  const X: Mat = {
    rows: 3,
    cols: D,
    data: Float64Array.from({ length: 3 * D }, (_, i) => ((i * 5) % 7) - 3),
  };
  const Q: Mat = { rows: 1, cols: D, data: X.data.slice(0, D).map((v) => 2 * v) };
  const m = model("separation poly(n = 30) steps 2");
  assert.ok([...retrieveReference(m, X, Q).states.data].every(Number.isFinite));
  const r = await load(m, X);
  try {
    await assert.rejects(() => r.retrieve(Q), /overflowed float32.*--device cpu/);
  } finally {
    r.destroy();
  }
});
