// Learned similarities (issue 12): `similarity uhop(...)` (U-Hop, MATH.md 6.1) and
// `similarity kernelized(...)` (kernelized Hopfield, 7.9), src/parts/similarity/learned.ts. The
// checker's ranges and refused combinations with their places; hand-checked scores for a tiny
// fitted map; the GPU lowering's identity K_i . q + c_i = <phi(x_i), phi(q)>; the GPU against
// the float64 reference across entropies, masks, separations, steps, values, clamp, readout
// project and plan shapes (memories split over several buffers too); saved fits through the CLI
// (--save-fit, --fit) and the library (retriever.fit, { fit }); bad fit files; reproducibility
// from the seed; U-Hop with W = I is dot similarity.
import { asMapFit } from "../src/fit/store.ts";
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { loadReference, retrieveReference } from "../src/reference/interpreter.ts";
import { learnedKeys } from "../src/runtime/hopc_host.ts";
import { fitSettings, type LearnedSpec } from "../src/parts/similarity/learned.ts";
import { decodeFit, encodeFit, type StoredFit } from "../src/fit/store.ts";
import { applyMap } from "../src/fit/linear_map.ts";
import { HopError } from "../src/diagnostics.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { kernelSpec } from "../src/wgsl/spec.ts";
import { main } from "../src/cli/main.ts";
import { encodeNpy, parseNpy } from "../src/io/npy.ts";
import { load as libraryLoad, reference as libraryReference } from "../mod.ts";
import { gpuTest } from "./helpers/gpu.ts";

function model(fields: string, name = "m"): Model {
  const { models, diagnostics } = checkText(`model ${name} { ${fields} }`, "m.hop");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], fields);
  return models[0];
}

function errors(text: string) {
  return checkText(text, "m.hop").diagnostics.filter((d) => d.severity === "error");
}

function data(M: number, D: number, B: number, seed: number, signed = false) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - (signed ? 0.5 : 0);
  };
  const X: Mat = { rows: M, cols: D, data: Float64Array.from({ length: M * D }, rnd) };
  const Q: Mat = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < D; j++) Q.data[b * D + j] = X.data[(b % M) * D + j] + 0.2 * rnd();
  }
  return { X, Q };
}

/** A fit with the given map, as the model's similarity would have made it. */
function givenFit(spec: LearnedSpec, D: number, W: number[], b: number[] | null): StoredFit {
  const settings = fitSettings(spec, D);
  return {
    settings,
    result: {
      map: {
        inputs: D,
        outputs: settings.outputs,
        weight: Float64Array.from(W),
        bias: b ? Float64Array.from(b) : null,
      },
      losses: [],
      separation: { before: 0, after: 0 },
      fitted: 0,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The checker.

Deno.test("checker: learned similarity arguments out of range are errors on their tokens", () => {
  const cases: [string, RegExp, number, number][] = [
    [
      "model m {\n  similarity uhop(epochs = 0)\n}",
      /epochs must be a whole number of at least 1/,
      2,
      28,
    ],
    ["model m { similarity uhop(epochs = 2.5) }", /epochs must be a whole number/, 1, 36],
    ["model m { similarity uhop(lr = 0) }", /lr must be positive/, 1, 32],
    ["model m { similarity uhop(t = -1) }", /t must be positive/, 1, 31],
    ["model m { similarity uhop(fraction = 0) }", /fraction must be above 0 and at most 1/, 1, 38],
    [
      "model m { similarity uhop(fraction = 1.5) }",
      /fraction must be above 0 and at most 1/,
      1,
      38,
    ],
    ["model m { similarity uhop(loss = min) }", /loss/, 1, 34],
    ["model m { similarity uhop(schedule = cosine) }", /schedule/, 1, 38],
    ["model m { similarity uhop(seed = -1) }", /seed must be a whole number from 0/, 1, 34],
    [
      "model m { similarity kernelized(dim = 0) }",
      /dim must be a whole number of at least 1/,
      1,
      39,
    ],
    [
      "model m { similarity kernelized(batch = 1) }",
      /batch must be a whole number of at least 2/,
      1,
      41,
    ],
    ["model m { similarity kernelized(tau = 0) }", /tau must be positive/, 1, 39],
    ["model m { similarity kernelized(lr = -0.1) }", /lr must be positive/, 1, 38],
    ["model m { similarity kernelized(epochs = 0) }", /epochs must be a whole number/, 1, 42],
    ["model m { similarity kernelized(t = 2) }", /unknown argument `t` of `kernelized`/, 1, 33],
    ["model m { similarity uhp }", /unknown similarity `uhp`/, 1, 22],
  ];
  for (const [text, message, line, col] of cases) {
    const errs = errors(text);
    assert.equal(errs.length, 1, `${text}: ${JSON.stringify(errs)}`);
    assert.match(errs[0].message, message, text);
    assert.deepEqual([errs[0].line, errs[0].col], [line, col], `${text}: ${errs[0].message}`);
  }
  // A did-you-mean for a misspelt part.
  assert.match(errors("model m { similarity uhp }")[0].hint ?? "", /uhop/);
});

Deno.test("checker: a learned similarity with continuous memory is refused, with its reason", () => {
  const errs = errors(
    "model m {\n  memory continuous(functions = 8)\n  similarity kernelized\n}",
  );
  assert.equal(errs.length, 1, JSON.stringify(errs));
  assert.match(
    errs[0].message,
    /`similarity kernelized` cannot be combined with continuous memory/,
  );
  assert.match(errs[0].hint ?? "", /fits its feature map to the memory rows/);
  assert.deepEqual([errs[0].line, errs[0].col], [3, 14]);
  // Everything else is accepted: entropies, masks, separations, posts, readout, relax.
  for (
    const f of [
      "similarity uhop entropy tsallis(alpha = 1.5) mask topk(k = 3) post l2",
      "similarity kernelized separation poly(n = 3, normalize = sum) readout project(a = 1, h = 0)",
      "similarity uhop(loss = mean, lr = 1, schedule = inverse_sqrt, fraction = 1) relax 0.5",
    ]
  ) model(f);
});

Deno.test("defaults: uhop is the authors' max script, kernelized the KHM code's settings", () => {
  const u = model("similarity uhop").similarity;
  assert.deepEqual(u, {
    kind: "uhop",
    loss: "max",
    epochs: 100,
    lr: 10,
    t: 2,
    fraction: 0.5,
    schedule: "constant",
    seed: 0,
  });
  const k = model("similarity kernelized").similarity;
  assert.deepEqual(k, {
    kind: "kernelized",
    dim: 200,
    epochs: 1,
    lr: 0.1,
    batch: 16,
    tau: 0.1,
    seed: 0,
  });
  const su = fitSettings(u as LearnedSpec, 7);
  assert.deepEqual(
    [su.loss, su.optimizer, su.outputs, su.bias, su.initStd, su.fraction],
    ["uniform_max", "sgd", 7, false, 1, 0.5],
  );
  const sk = fitSettings(k as LearnedSpec, 8);
  assert.deepEqual(
    [sk.loss, sk.optimizer, sk.outputs, sk.bias, sk.initStd, sk.batch, sk.temperature],
    ["separation", "adam", 200, true, Math.sqrt(2 / 8), 16, 0.1],
  );
  const mean = model("similarity uhop(loss = mean, lr = 1, schedule = inverse_sqrt, fraction = 1)");
  const sm = fitSettings(mean.similarity as LearnedSpec, 3);
  assert.deepEqual([sm.loss, sm.lr, sm.schedule, sm.fraction], [
    "uniform_mean",
    1,
    "inverse_sqrt",
    1,
  ]);
});

// ---------------------------------------------------------------------------------------------
// The reference's scores and the lowering.

Deno.test("scores by hand: kernelized with W = [[1, 2], [0, 1]], b = [0.5, -1]", () => {
  // separation linear (raw) makes the weights the scores themselves.
  const m = model("similarity kernelized(dim = 2) separation linear steps 1");
  const fit = givenFit(m.similarity as LearnedSpec, 2, [1, 2, 0, 1], [0.5, -1]);
  const X: Mat = { rows: 2, cols: 2, data: Float64Array.from([1, 0, 0, 1]) };
  const loaded = loadReference(m, X, { fit });
  assert.equal(loaded.fit, fit);
  // phi(x_0) = [1.5, -1], phi(x_1) = [2.5, 0]; q = [1, 1]: phi(q) = [3.5, 0].
  const { weights } = loaded.step(Float64Array.from([1, 1]), 0);
  assert.deepEqual([...weights], [1.5 * 3.5, 2.5 * 3.5]);
  // U-Hop: no bias; W = [[2, 0], [1, 1]]: Wx_0 = [2, 1], Wx_1 = [0, 1], Wq = [2, 2].
  const u = model("similarity uhop separation linear steps 1");
  const ufit = givenFit(u.similarity as LearnedSpec, 2, [2, 0, 1, 1], null);
  const w = loadReference(u, X, { fit: ufit }).step(Float64Array.from([1, 1]), 0).weights;
  assert.deepEqual([...w], [6, 2]);
});

Deno.test("lowering: K_i . q + c_i = <phi(x_i), phi(q)> for random maps", () => {
  const { X, Q } = data(9, 5, 3, 4, true);
  for (const [F, bias] of [[5, false], [7, true], [3, true]] as const) {
    const W = Array.from({ length: F * 5 }, (_, i) => Math.sin(1.7 * i + F));
    const b = bias ? Array.from({ length: F }, (_, i) => Math.cos(i)) : null;
    const map = {
      inputs: 5,
      outputs: F,
      weight: Float64Array.from(W),
      bias: b && Float64Array.from(b),
    };
    const { keys, bias: c } = learnedKeys(W, b, F, X);
    const phiX = applyMap(map, X.data, X.rows);
    for (let q = 0; q < Q.rows; q++) {
      const row = Q.data.subarray(q * 5, q * 5 + 5);
      const phiQ = applyMap(map, row, 1);
      for (let i = 0; i < X.rows; i++) {
        let direct = 0, lowered = c[i];
        for (let f = 0; f < F; f++) direct += phiX[i * F + f] * phiQ[f];
        for (let d = 0; d < 5; d++) lowered += keys.data[i * 5 + d] * row[d];
        assert.ok(
          Math.abs(direct - lowered) <= 1e-12 * Math.max(1, Math.abs(direct)),
          `${direct} ${lowered}`,
        );
      }
      if (!bias) assert.ok(c.every((v) => v === 0), "uhop has no bias: c = 0");
    }
  }
  assert.throws(() => learnedKeys([1, 2], null, 2, X), /F x D = 2 x 5/);
});

Deno.test("fits are reproducible from the seed; another seed fits another map", () => {
  const { X } = data(20, 6, 1, 9);
  const fitOf = (f: string) => loadReference(model(f), X).fit!;
  for (const f of ["similarity uhop(epochs = 5)", "similarity kernelized(dim = 12, batch = 4)"]) {
    const a = fitOf(f), b = fitOf(f);
    assert.deepEqual([...asMapFit(a).result.map.weight], [...asMapFit(b).result.map.weight], f);
    assert.deepEqual(asMapFit(a).result.losses, asMapFit(b).result.losses, f);
    const other = fitOf(f.replace(")", ", seed = 7)"));
    assert.notDeepEqual(
      [...asMapFit(other).result.map.weight],
      [...asMapFit(a).result.map.weight],
      f,
    );
  }
  // uhop's fraction: the map is fitted on the leading half of the memories.
  assert.equal(asMapFit(fitOf("similarity uhop(epochs = 2)")).result.fitted, 10);
  assert.equal(asMapFit(fitOf("similarity uhop(epochs = 2, fraction = 1)")).result.fitted, 20);
});

Deno.test("properties: uhop with a saved W = I is dot similarity (any entropy, post, steps)", () => {
  const { X, Q } = data(12, 4, 3, 2, true);
  const I = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  for (
    const rest of [
      "beta 2 steps 3",
      "entropy sparsemax beta 4 post l2 steps until(tol = 1e-6, max = 20)",
      "entropy tsallis(alpha = 1.5) mask topk(k = 4) beta 3 steps 2",
    ]
  ) {
    const u = model(`similarity uhop ${rest}`);
    const fit = givenFit(u.similarity as LearnedSpec, 4, I, null);
    const got = retrieveReference(u, X, Q, loadReference(u, X, { fit }));
    const want = retrieveReference(model(rest), X, Q);
    for (let i = 0; i < want.states.data.length; i++) {
      assert.ok(Math.abs(got.states.data[i] - want.states.data[i]) < 1e-12, rest);
    }
    assert.deepEqual(got.stepsRun, want.stepsRun, rest);
  }
});

Deno.test("energy: none is reported for a learned similarity (no CCCP step of it)", () => {
  const { X, Q } = data(8, 3, 2, 3);
  for (
    const f of ["similarity uhop(epochs = 3)", "similarity kernelized(dim = 4) separation linear"]
  ) {
    const out = retrieveReference(model(`${f} steps 2`), X, Q);
    assert.ok(out.trace.every((t) => t.energy.every((e) => e === null)), f);
  }
  // The dot model beside it has one.
  assert.ok(retrieveReference(model("steps 2"), X, Q).trace[0].energy.every((e) => e !== null));
});

Deno.test("data: learned similarities take signed memories; fewer than 2 memories is an error", () => {
  const { X, Q } = data(6, 3, 2, 5, true);
  const out = retrieveReference(model("similarity kernelized(dim = 4)"), X, Q);
  assert.ok(out.states.data.every(Number.isFinite));
  const one: Mat = { rows: 1, cols: 3, data: Float64Array.from([1, 2, 3]) };
  assert.throws(
    () => loadReference(model("similarity uhop"), one),
    (e: unknown) => e instanceof HopError && /needs at least 2, got M = 1/.test(e.message),
  );
  // ... unless a fit is given.
  const u = model("similarity uhop");
  const fit = givenFit(u.similarity as LearnedSpec, 3, [1, 0, 0, 0, 1, 0, 0, 0, 1], null);
  assert.ok(loadReference(u, one, { fit }).fit === fit);
});

Deno.test("saved fits are checked against the model: D, settings, bias, non-learned models", () => {
  const { X } = data(6, 3, 1, 5);
  const u = model("similarity uhop");
  const spec = u.similarity as LearnedSpec;
  const I3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const bad = (fit: StoredFit, m: Model, re: RegExp) =>
    assert.throws(
      () => loadReference(m, X, { fit, file: "F.npz" }),
      (e: unknown) =>
        e instanceof HopError && re.test(e.message) && e.diagnostics[0].file === "F.npz",
      String(re),
    );
  bad(
    givenFit(spec, 2, [1, 0, 0, 1], null),
    u,
    /the fit maps vectors of D = 2 but the memories have D = 3/,
  );
  bad(
    givenFit({ ...spec, seed: 3 } as LearnedSpec, 3, I3, null),
    u,
    /does not match model `m`'s `similarity uhop`: its seed is 3, the model's is 0/,
  );
  bad(
    givenFit({ ...spec, lr: 1 } as LearnedSpec, 3, I3, null),
    u,
    /its lr is 1, the model's is 10/,
  );
  const k = model("similarity kernelized(dim = 3)");
  bad(givenFit(spec, 3, I3, null), k, /its loss is "uniform_max", the model's is "separation"/);
  bad(givenFit(spec, 3, I3, null), model("beta 2"), /has no learned similarity \(it is `dot`\)/);
  const nan = givenFit(spec, 3, [NaN, 0, 0, 0, 1, 0, 0, 0, 1], null);
  bad(nan, u, /non-finite/);
});

// ---------------------------------------------------------------------------------------------
// The GPU against the float64 reference.

async function agree(
  m: Model,
  X: Mat,
  Q: Mat,
  choices: RunChoices,
  what: string,
  extras: { clamp?: Mat; values?: Mat; graph?: Mat } = {},
  tol = 2e-4,
) {
  const loaded = loadReference(m, X, { graph: extras.graph });
  const r = await load(m, X, undefined, choices, { graph: extras.graph, fit: loaded.fit! });
  try {
    assert.equal(r.fit, loaded.fit, "the given fit is the retriever's");
    const { graph: _g, ...perCall } = extras;
    const out = await r.retrieve(Q, { weights: true, ...perCall });
    const ref = retrieveReference(m, X, Q, loaded, extras);
    let err = 0, big = 0;
    for (let i = 0; i < ref.states.data.length; i++) {
      err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
      big = Math.max(big, Math.abs(ref.states.data[i]));
    }
    assert.ok(err <= tol * Math.max(big, 1), `${what}: state error ${err} of ${big}`);
    let werr = 0;
    for (let i = 0; i < ref.weights.data.length; i++) {
      werr = Math.max(werr, Math.abs(out.weights![i] - ref.weights.data[i]));
    }
    assert.ok(werr <= tol, `${what}: weight error ${werr}`);
    assert.deepEqual(Array.from(out.stepsRun), ref.stepsRun, what);
    return r.blockedPlan;
  } finally {
    r.destroy();
  }
}

// Scores <Wx, Wq> with W ~ N(0, 1) grow like D |x| |q|: small betas keep the weights soft, so
// float32 score errors stay small in the weights.
const UHOP = "similarity uhop(epochs = 10)";
const KHM = "similarity kernelized(dim = 24, batch = 8)";

gpuTest(
  "GPU = reference: uhop and kernelized across entropies, masks, separations, steps",
  async () => {
    const { X, Q } = data(40, 10, 5, 8);
    const cases = [
      `${UHOP} beta 0.02 steps 3`,
      `${UHOP} entropy sparsemax beta 0.05 steps 2`,
      `${UHOP} entropy tsallis(alpha = 1.5) beta 0.05 steps until(tol = 1e-5, max = 20)`,
      `${UHOP} entropy normmax(gamma = 2) beta 0.05 steps 2`,
      `${UHOP} mask topk(k = 6) beta 0.02 steps 2`,
      `${UHOP} separation poly(n = 2, normalize = sum) steps 2`,
      `${UHOP} post tanh beta 0.05 steps 3`,
      `similarity uhop(loss = mean, lr = 1, schedule = inverse_sqrt, fraction = 1, epochs = 5) beta 0.02 steps 2`,
      `${KHM} beta 2 steps 3`,
      `${KHM} entropy sparsemax beta 4 steps until(tol = 1e-5, max = 20)`,
      `${KHM} entropy tsallis(alpha = 1.5) beta 3 steps 2`,
      `${KHM} entropy normmax(gamma = 2) beta 3 steps 2`,
      `${KHM} mask topk(k = 5) beta 2 steps 2`,
      `${KHM} mask random(keep = 0.5, seed = 3) beta 2 steps 2`,
      `${KHM} separation exp(scale = 0.5, normalize = sum) steps 2`,
      `${KHM} separation max steps 2`,
      `${KHM} post l2 beta 4 steps 3`,
      `${KHM} post layernorm beta 2 steps 2`,
      `${KHM} readout project(a = 0.5, h = 0, c = 0.5) relax 0.5 steps 3`,
    ];
    for (const f of cases) await agree(model(f), X, Q, {}, f);
  },
);

const PLANS: { label: string; choices: RunChoices }[] = [
  { label: "rules", choices: {} },
  { label: "fused asked", choices: { blocked: { schedule: "fused" } } },
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
  { label: "parallel splits", choices: { blocked: { parallelism: 4096 } } },
];

gpuTest(
  "GPU = reference: learned similarities x plan shapes, memories over several buffers",
  async (ctx) => {
    const { X, Q } = data(64, 12, 5, 3);
    for (const f of [`${UHOP} beta 0.02 steps 3`, `${KHM} entropy sparsemax beta 4 steps 3`]) {
      for (const { label, choices } of PLANS) await agree(model(f), X, Q, choices, `${f} ${label}`);
      // 12 columns are 3 vec4 chunks (48 bytes a row): a 1536-byte binding holds 32 rows, or 16
      // key rows with their readout rows, so the 64 memories span 4 buffers (and 4 aux slices).
      const limits = { ...ctx.limits, maxStorageBufferBindingSize: 1536 };
      const plan = await agree(model(f), X, Q, { limits }, `${f} split`);
      assert.ok(plan && plan.rowsPerChunk === 16, `rows per chunk ${plan?.rowsPerChunk}`);
      await agree(
        model(f),
        X,
        Q,
        { limits, blocked: { parallelism: 4096 } },
        `${f} split parallel`,
      );
    }
  },
);

gpuTest("GPU = reference: values, clamp and readout project with a graph", async () => {
  const { X, Q } = data(24, 6, 4, 11);
  const m = model(`${KHM} beta 2 steps 4`);
  const C: Mat = { rows: 1, cols: 6, data: Float64Array.from([1, 1, 0, 0, 0, 0]) };
  const V: Mat = {
    rows: 24,
    cols: 3,
    data: Float64Array.from({ length: 72 }, (_, i) => Math.sin(i)),
  };
  await agree(m, X, Q, {}, "clamp", { clamp: C });
  await agree(m, X, Q, {}, "values", { values: V });
  const A = new Float64Array(24 * 24);
  for (let i = 0; i < 24; i++) A[i * 24 + (i + 1) % 24] = 1;
  const graph: Mat = { rows: 24, cols: 24, data: A };
  const p = model(`${UHOP} beta 0.02 readout project(a = 0.5, h = 0.5, c = 1) relax 0.5 steps 3`);
  await agree(p, X, Q, {}, "project", { graph });
});

gpuTest("GPU: a saved W = I makes uhop score like dot; fits at load by themselves", async () => {
  const { X, Q } = data(16, 4, 3, 6, true);
  const u = model("similarity uhop beta 2 steps 3");
  const I = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const r = await load(u, X, undefined, {}, {
    fit: givenFit(u.similarity as LearnedSpec, 4, I, null),
  });
  const d = await load(model("beta 2 steps 3"), X);
  try {
    const a = await r.retrieve(Q), b = await d.retrieve(Q);
    for (let i = 0; i < a.states.length; i++) assert.ok(Math.abs(a.states[i] - b.states[i]) < 1e-5);
  } finally {
    r.destroy();
    d.destroy();
  }
  // Without a fit, the GPU's load fits (the same map as the reference's, from the seed).
  const k = model(`${KHM} beta 2 steps 2`);
  const own = await load(k, X);
  try {
    assert.deepEqual([...asMapFit(own.fit!).result.map.weight], [
      ...asMapFit(loadReference(k, X).fit!).result.map.weight,
    ]);
    const out = await own.retrieve(Q);
    const ref = retrieveReference(k, X, Q);
    for (let i = 0; i < out.states.length; i++) {
      assert.ok(Math.abs(out.states[i] - ref.states.data[i]) < 2e-4);
    }
  } finally {
    own.destroy();
  }
  // The one-workgroup kernel has no lowering of them, and says why.
  assert.match(kernelSpec(k).workgroupUnsupported ?? "", /runs on the blocked kernels only/);
  await assert.rejects(
    () => load(k, X, undefined, { kernel: "workgroup" }),
    /blocked kernels only/,
  );
});

gpuTest(
  "library: retriever.fit round-trips through encodeFit/decodeFit and reference({ fit })",
  async (ctx) => {
    const { X, Q } = data(20, 5, 3, 13);
    const m = model(`${KHM} beta 2 steps 2`);
    const epochs: number[] = [];
    const r = await libraryLoad(ctx, m, X, { onFitProgress: (p) => epochs.push(p.epoch) });
    try {
      assert.deepEqual(epochs, [1]);
      const fit = await decodeFit(encodeFit(r.fit!), "F.npz");
      assert.deepEqual([...asMapFit(fit).result.map.weight], [
        ...asMapFit(r.fit!).result.map.weight,
      ]);
      const again = await libraryLoad(ctx, m, X, {
        fit,
        onFitProgress: () => assert.fail("refit"),
      });
      const ref = libraryReference(m, X, Q, { fit });
      assert.equal(ref.fit, fit);
      const a = await r.retrieve(Q), b = await again.retrieve(Q);
      assert.deepEqual([...a.states.data], [...b.states.data]);
      for (let i = 0; i < a.states.data.length; i++) {
        assert.ok(Math.abs(a.states.data[i] - ref.states.data[i]) < 2e-4);
      }
      again.destroy();
      // A non-learned model has no fit.
      const plain = await libraryLoad(ctx, model("beta 2"), X);
      assert.equal(plain.fit, null);
      plain.destroy();
    } finally {
      r.destroy();
    }
  },
);

// ---------------------------------------------------------------------------------------------
// The command line.

async function hopc(...argv: string[]) {
  const out: string[] = [], err: string[] = [], status: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    progress: () => ({
      update: (t) => status.push(t),
      line: (t) => err.push(t),
      done: () => {},
    }),
  });
  return { code, out: out.join("\n"), err: err.join("\n"), status };
}

const SOURCE = `model u {
  similarity uhop(epochs = 20)
  beta 0.05
  steps 2
}
model k {
  similarity kernelized(dim = 16, batch = 4, seed = 1)
  beta 2
  steps 2
}
model k2 {
  similarity kernelized(dim = 16, batch = 4, seed = 2)
  beta 2
}
model plain { beta 2 }`;

async function withFiles(fn: (f: Record<string, string>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hopc-learned-" });
  try {
    const f: Record<string, string> = {
      hop: `${dir}/m.hop`,
      X: `${dir}/X.npy`,
      X7: `${dir}/X7.npy`,
      Q: `${dir}/Q.npy`,
      Q7: `${dir}/Q7.npy`,
      fit: `${dir}/fit.npz`,
      fit2: `${dir}/fit2.npz`,
      junk: `${dir}/junk.npz`,
      out: `${dir}/out.npy`,
      out2: `${dir}/out2.npy`,
    };
    const { X, Q } = data(12, 6, 3, 7);
    const s7 = data(12, 7, 3, 7);
    await Deno.writeTextFile(f.hop, SOURCE);
    await Deno.writeFile(f.X, encodeNpy(X, "<f8"));
    await Deno.writeFile(f.Q, encodeNpy(Q, "<f8"));
    await Deno.writeFile(f.X7, encodeNpy(s7.X, "<f8"));
    await Deno.writeFile(f.Q7, encodeNpy(s7.Q, "<f8"));
    await Deno.writeFile(f.junk, new TextEncoder().encode("not a zip"));
    await fn(f);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const read = async (p: string) => [...parseNpy(await Deno.readFile(p), p).data];

Deno.test("cli: --save-fit writes the fit, --fit reuses it (cpu), with fit progress on stderr", async () => {
  await withFiles(async (f) => {
    const base = ["retrieve", f.hop, "--memories", f.X, "--queries", f.Q, "--device", "cpu"];
    for (const name of ["u", "k"]) {
      const a = await hopc(...base, "--model", name, "-o", f.out, "--save-fit", f.fit);
      assert.equal(a.code, 0, a.err);
      assert.match(
        a.err,
        new RegExp(`hopc: fitted ${name === "u" ? "uhop on 6" : "kernelized on 12"} memories`),
      );
      const fit = await decodeFit(await Deno.readFile(f.fit), f.fit);
      const m = checkText(SOURCE, "m.hop").models.find((x) => x.name === name)!;
      const { X, Q } = data(12, 6, 3, 7);
      const want = loadReference(m, X).fit!;
      assert.deepEqual([...asMapFit(fit).result.map.weight], [...asMapFit(want).result.map.weight]);
      const b = await hopc(...base, "--model", name, "-o", f.out2, "--fit", f.fit);
      assert.equal(b.code, 0, b.err);
      assert.doesNotMatch(b.err, /fitted/);
      // The fit's progress: one status per epoch, with its loss; none for a saved fit.
      const epochs = name === "u" ? 20 : 1;
      assert.equal(a.status.length, epochs, a.status.join("\n"));
      assert.match(a.status[epochs - 1], new RegExp(`epoch ${epochs}/${epochs}, loss -?\\d`));
      assert.deepEqual(b.status, []);
      assert.deepEqual(await read(f.out), await read(f.out2));
      const ref = retrieveReference(m, X, Q).states.data;
      // The output .npy is float32.
      (await read(f.out)).forEach((v, i) =>
        assert.ok(Math.abs(v - ref[i]) <= 1e-6 * Math.max(1, Math.abs(ref[i])))
      );
    }
  });
});

Deno.test("cli: bad --fit files and misplaced fit options exit 1 naming the file", async () => {
  await withFiles(async (f) => {
    const base = ["retrieve", f.hop, "--queries", f.Q, "-o", f.out, "--device", "cpu"];
    const saved = await hopc(...base, "--memories", f.X, "--model", "k", "--save-fit", f.fit);
    assert.equal(saved.code, 0, saved.err);
    const cases: [string[], RegExp][] = [
      [["--memories", f.X, "--model", "k", "--fit", f.junk], /junk\.npz/],
      [["--memories", f.X, "--model", "k", "--fit", `${f.fit}.missing`], /cannot read the fit/],
      [["--memories", f.X, "--model", "k2", "--fit", f.fit], /its seed is 1, the model's is 2/],
      [
        ["--memories", f.X, "--model", "u", "--fit", f.fit],
        /does not match model `u`'s `similarity uhop`/,
      ],
      [
        ["--memories", f.X7, "--queries", f.Q7, "--model", "k", "--fit", f.fit],
        /D = 6 but the memories have D = 7/,
      ],
      [["--memories", f.X, "--model", "plain", "--fit", f.fit], /has no learned similarity/],
      [["--memories", f.X, "--model", "plain", "--save-fit", f.fit2], /there is no fit to save/],
    ];
    for (const [extra, re] of cases) {
      const r = await hopc(...base, ...extra);
      assert.equal(r.code, 1, `${extra.join(" ")}: ${r.err}`);
      assert.match(r.err, re, extra.join(" "));
      const flag = extra.includes("--fit") ? "--fit" : "--save-fit";
      const named = extra[extra.indexOf(flag) + 1];
      assert.ok(r.err.includes(named), `${r.err} names ${named}`);
    }
    assert.equal(await Deno.stat(f.fit2).then(() => true, () => false), false, "nothing written");
  });
});

gpuTest(
  "cli: the GPU with --fit is the reference with --fit; --trace on the GPU shares the fit",
  async () => {
    await withFiles(async (f) => {
      const base = ["retrieve", f.hop, "--memories", f.X, "--queries", f.Q, "--model", "k"];
      const cpu = await hopc(...base, "--device", "cpu", "-o", f.out, "--save-fit", f.fit);
      assert.equal(cpu.code, 0, cpu.err);
      const gpu = await hopc(...base, "--device", "gpu", "-o", f.out2, "--fit", f.fit);
      assert.equal(gpu.code, 0, gpu.err);
      const a = await read(f.out), b = await read(f.out2);
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 2e-4, `${i}: ${v} ${b[i]}`));
      const traced = await hopc(
        ...base,
        "--device",
        "gpu",
        "-o",
        f.out2,
        "--trace",
        `${f.out}.json`,
        "--save-fit",
        f.fit2,
      );
      assert.equal(traced.code, 0, traced.err);
      const fit1 = await decodeFit(await Deno.readFile(f.fit), f.fit);
      const fit2 = await decodeFit(await Deno.readFile(f.fit2), f.fit2);
      assert.deepEqual([...asMapFit(fit1).result.map.weight], [
        ...asMapFit(fit2).result.map.weight,
      ]);
    });
  },
);
