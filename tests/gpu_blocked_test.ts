// The query-blocked kernels (src/runtime/blocked/): every plan keeps to the loop budget it
// declares; every candidate plan the tuner may pick agrees with the float64 reference; and the
// sizes past llvmpipe's per-invocation loop limit (65535 iterations, after which every loop
// silently exits early) agree too: M = 131072 at D = 64, M = 20000 at D = 784 for 8 steps, and
// M = 511 at D = 794 for 128 steps with every entropy; memories larger than one storage binding
// (limits shrunk so a small memory spans several buffers) as well.
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import {
  type BlockedChoices,
  LLVMPIPE_LOOP_LIMIT,
  loopBudgetFor,
  passIterations,
  planBlocked,
  sliceQueries,
  splitsFor,
} from "../src/runtime/blocked/plan.ts";
import type { BlockedParts } from "../src/runtime/blocked/types.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { gpuTest } from "./helpers/gpu.ts";
import { planShapes, workgroupKernelIterations } from "../src/runtime/standalone.ts";
import { kernelSpec } from "../src/wgsl/spec.ts";

const LIMITS = {
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxStorageBufferBindingSize: 134217728,
  maxComputeWorkgroupsPerDimension: 65535,
};

type PlanParts =
  & Pick<BlockedParts, "family" | "mask" | "ent" | "bisection">
  & Partial<Pick<BlockedParts, "projected">>;
const FAMILIES: PlanParts[] = [
  {
    family: "online",
    mask: { kind: "none" },
    ent: { kind: "exp", math: "", zeroMemory: false },
    bisection: 0,
  },
  {
    family: "online",
    mask: { kind: "random", math: "", threshold: 1 << 30, seed: 1 },
    ent: { kind: "exp", math: "", zeroMemory: true },
    bisection: 0,
  },
  {
    family: "threshold",
    mask: { kind: "none" },
    ent: {
      kind: "threshold",
      math: "",
      shift: "",
      bracket: "",
      summand: "",
      target: "",
      weight: "",
      normalize: true,
    },
    bisection: 30,
  },
  {
    family: "threshold",
    mask: { kind: "topk", math: "", k: 5 },
    ent: { kind: "exp", math: "", zeroMemory: false },
    bisection: 0,
  },
  {
    family: "threshold",
    mask: { kind: "none" },
    ent: {
      kind: "threshold",
      math: "",
      shift: "",
      bracket: "",
      summand: "",
      target: "",
      weight: "",
      normalize: false,
    },
    bisection: 40,
  },
  {
    family: "features",
    mask: { kind: "none" },
    ent: { kind: "exp", math: "", zeroMemory: false },
    bisection: 0,
    projected: { kind: "features", map: "positive", logEps: -13.8, reluFloor: 1e-3 },
  },
  {
    family: "quadrature",
    mask: { kind: "none" },
    ent: { kind: "exp", math: "", zeroMemory: false },
    bisection: 0,
    projected: {
      kind: "quadrature",
      basis: "gaussian",
      N: 64,
      P: 500,
      width: 1 / 64,
      reach: 9 / 64,
      basisPerPoint: 20,
      pointsPerBasis: 142,
      beta: 1,
      finish: "acc",
      density: { kind: "threshold", lo: -1000, iterations: 40 },
    },
  },
];

Deno.test("every blocked plan keeps each pass within the loop budget it declares", () => {
  fc.assert(
    fc.property(
      fc.record({
        family: fc.integer({ min: 0, max: FAMILIES.length - 1 }),
        M: fc.integer({ min: 1, max: 4_000_000 }),
        D: fc.integer({ min: 1, max: 1600 }),
        B: fc.integer({ min: 1, max: 4096 }),
        budget: fc.constantFrom(2000, 10000, 60000, 1 << 20),
        schedule: fc.constantFrom<"fused" | "threePass" | undefined>(
          "fused",
          "threePass",
          undefined,
        ),
        rowBlock: fc.constantFrom(1, 2, 4, 8),
        queriesPerThread: fc.constantFrom<4 | 8>(4, 8),
        binding: fc.constantFrom(1 << 20, 134217728),
        tile: fc.constantFrom<"none" | "workgroup">("none", "workgroup"),
        workgroupSize: fc.constantFrom(16, 64, 256),
      }),
      (c) => {
        const parts = FAMILIES[c.family];
        const limits = { ...LIMITS, maxStorageBufferBindingSize: c.binding };
        let plan;
        try {
          plan = planBlocked(parts, c.M, c.D, limits, c.budget, {
            schedule: c.schedule,
            rowBlock: c.rowBlock,
            queriesPerThread: c.queriesPerThread,
            tile: c.tile,
            workgroupSize: c.workgroupSize,
          });
        } catch (e) {
          // A plan may refuse (with a message naming the limit), never exceed.
          assert.match(String(e), /budget|binding|workgroup memory/);
          return;
        }
        assert.ok(plan.loopBudget === c.budget);
        for (const [pass, n] of Object.entries(plan.iterations)) {
          assert.ok(n <= c.budget, `${pass}: ${n} > ${c.budget}`);
        }
        let nq: number, parallelism: number;
        try {
          ({ nq, parallelism } = sliceQueries(plan, c.M, c.B, limits));
        } catch (e) {
          assert.match(String(e), /binding/);
          return;
        }
        // The runtime's split layout for a slice: what the dispatches and the finish pass see.
        let split = splitsFor(plan, c.M, nq, parallelism);
        assert.ok(split.total * nq * (plan.d4 + 1) * 16 <= c.binding, "partials fit a binding");
        if (passIterations(parts, plan, split.rowsPerSplit, c.M, split.total).finish > c.budget) {
          split = splitsFor(plan, c.M, nq, 1);
        }
        const its = passIterations(parts, plan, split.rowsPerSplit, c.M, split.total);
        for (const [pass, n] of Object.entries(its)) {
          assert.ok(n <= c.budget, `${pass} at dispatch: ${n} > ${c.budget}`);
        }
        // The splits cover every memory row exactly once.
        let rows = 0;
        for (let row0 = 0, k = 0; row0 < c.M; row0 += plan.rowsPerChunk, k++) {
          const chunk = Math.min(plan.rowsPerChunk, c.M - row0);
          assert.ok(split.perChunk[k] * split.rowsPerSplit >= chunk);
          assert.ok((split.perChunk[k] - 1) * split.rowsPerSplit < chunk);
          rows += chunk;
        }
        assert.equal(rows, c.M);
        assert.ok(plan.rowsPerChunk * plan.d4 * 16 <= c.binding);
      },
    ),
    { numRuns: 3000, seed: 20261203 },
  );
});

Deno.test("the fused schedule is planned up to D = 64 only, three passes past it, with a note", () => {
  const online = FAMILIES[0];
  assert.equal(
    planBlocked(online, 1000, 64, LIMITS, 60000, { schedule: "fused" }).schedule,
    "fused",
  );
  const wide = planBlocked(online, 1000, 65, LIMITS, 60000, { schedule: "fused" });
  assert.equal(wide.schedule, "threePass");
  assert.ok(wide.notes.some((n) => /fused schedule needs an online map and D <= 64/.test(n)));
});

Deno.test("the loop budget planned for llvmpipe stays below its loop limit", () => {
  assert.ok(loopBudgetFor("llvmpipe (LLVM 15.0.6, 256 bits)") < LLVMPIPE_LOOP_LIMIT);
  assert.ok(loopBudgetFor("lavapipe") < LLVMPIPE_LOOP_LIMIT);
});

// ---------------------------------------------------------------------------------------------
// Agreement with the float64 reference.

function modelOf(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "test.hop");
  assert.deepEqual(diagnostics, []);
  return models[0];
}

/** Unit-norm memories (seeded) and queries = memories + noise: well-conditioned retrieval. */
function data(M: number, D: number, B: number, seed: number, noise = 0.3): { X: Mat; Q: Mat } {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const X = new Float64Array(M * D);
  for (let i = 0; i < M; i++) {
    let n = 0;
    for (let d = 0; d < D; d++) n += (X[i * D + d] = rnd()) ** 2;
    n = Math.sqrt(n);
    for (let d = 0; d < D; d++) X[i * D + d] /= n;
  }
  const Q = new Float64Array(B * D);
  for (let b = 0; b < B; b++) {
    const i = (b * 7919) % M;
    for (let d = 0; d < D; d++) Q[b * D + d] = X[i * D + d] + noise * rnd() / Math.sqrt(D);
  }
  return { X: { rows: M, cols: D, data: X }, Q: { rows: B, cols: D, data: Q } };
}

async function agree(
  model: Model,
  X: Mat,
  Q: Mat,
  choices: RunChoices,
  what: string,
  opts: { weights?: boolean; tol?: number } = {},
): Promise<number> {
  const r = await load(model, X, undefined, choices);
  try {
    const out = await r.retrieve(Q, { weights: opts.weights });
    const ref = retrieveReference(model, X, Q);
    let err = 0, big = 0;
    for (let i = 0; i < Q.rows * Q.cols; i++) {
      err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
      big = Math.max(big, Math.abs(ref.states.data[i]));
    }
    const rel = err / Math.max(big, 1e-30);
    assert.ok(rel <= (opts.tol ?? 1e-4), `${what}: state error ${rel.toExponential(2)}`);
    assert.deepEqual(Array.from(out.stepsRun), ref.stepsRun, `${what}: steps run`);
    if (opts.weights) {
      let werr = 0;
      for (let i = 0; i < ref.weights.data.length; i++) {
        werr = Math.max(werr, Math.abs(out.weights![i] - ref.weights.data[i]));
        if (model.entropy.kind !== "shannon" && model.entropy.kind !== "softmax1") {
          assert.equal(
            out.weights![i] === 0,
            ref.weights.data[i] === 0,
            `${what}: support at ${i}`,
          );
        }
      }
      assert.ok(werr <= 1e-4, `${what}: weight error ${werr.toExponential(2)}`);
    }
    return rel;
  } finally {
    r.destroy();
  }
}

/** The plans the tuner may pick (src/runtime/tune.ts draws from the same choices). */
function candidatePlans(model: Model): { label: string; choices: RunChoices }[] {
  const online = model.mask.kind !== "topk" &&
    (model.entropy.kind === "shannon" || model.entropy.kind === "softmax1");
  const rowBlocks = model.mask.kind === "random" ? [1, 2] : [4, 8];
  const out: { label: string; choices: RunChoices }[] = [];
  for (const queriesPerThread of [4, 8] as const) {
    for (const rowBlock of rowBlocks) {
      const blocked: BlockedChoices = { schedule: "threePass", queriesPerThread, rowBlock };
      out.push({ label: `threePass q${queriesPerThread} r${rowBlock}`, choices: { blocked } });
    }
  }
  if (online) {
    out.push({ label: "fused r2", choices: { blocked: { schedule: "fused", rowBlock: 2 } } });
  }
  // X through workgroup tiles, with short and long row blocks and few or many threads.
  out.push({
    label: "tiled q8 r8 wg64",
    choices: {
      blocked: { tile: "workgroup", queriesPerThread: 8, rowBlock: 8, workgroupSize: 64 },
    },
  });
  out.push({
    label: "tiled q4 r1 wg16",
    choices: {
      blocked: { tile: "workgroup", queriesPerThread: 4, rowBlock: 1, workgroupSize: 16 },
    },
  });
  // The rules for a GPU adapter (wider workgroups) on this one.
  out.push({
    label: "threePass wg64 rows256",
    choices: { blocked: { workgroupSize: 64, rowWorkgroupSize: 256 } },
  });
  return out;
}

const MODELS = [
  "entropy shannon beta 4 steps 3",
  "entropy softmax1 similarity cosine beta 8 post l2",
  "entropy tsallis(alpha = 1.5) similarity euclidean beta 6 steps 2",
  "entropy tsallis(alpha = 3) beta 4",
  "entropy sparsemax post layernorm beta 3 steps until(tol = 1e-5, max = 20)",
  "entropy normmax(gamma = 2) post tanh beta 2",
  "entropy ksubsets(k = 3) beta 5",
  "mask topk(k = 7) similarity manhattan beta 2 steps 2",
  "entropy sparsemax mask topk(k = 20) beta 8",
  "mask random(keep = 0.3, seed = 4) beta 4 steps 2",
];

for (const fields of MODELS) {
  gpuTest(`every candidate plan agrees with the reference: ${fields}`, async () => {
    const model = modelOf(fields);
    const { X, Q } = data(300, 61, 13, 11);
    for (const { label, choices } of candidatePlans(model)) {
      await agree(model, X, Q, choices, label, { weights: true });
    }
    // A tiny loop budget: many splits per query and the bisection over several dispatches.
    await agree(model, X, Q, { loopBudget: 2000 }, "budget 2000", { weights: true });
  });
}

// The projected families: their score rows are projections of the state (W q, or B q), their
// per-query pass makes the weights (features' phi / ksum . phi, the quadrature density's E[psi]).
const PROJECTED = [
  {
    fields: "similarity features(map = positive, count = 48, seed = 3) beta 2 steps 2",
    weights: false,
  },
  { fields: "similarity features(map = relu, count = 40) post l2 beta 3", weights: false },
  { fields: "similarity features(map = elu) post layernorm beta 2 steps 2", weights: false },
  { fields: "memory continuous(basis = gaussian, functions = 24) beta 6 steps 2", weights: true },
  {
    fields:
      "memory continuous(basis = box, functions = 16, quadrature = trapezoid) entropy tsallis(alpha = 1.5) similarity cosine beta 8",
    weights: true,
  },
  {
    fields:
      "memory continuous(basis = gaussian, functions = 12) entropy sparsemax similarity euclidean post tanh beta 4 steps until(tol = 1e-5, max = 6)",
    weights: true,
  },
];

for (const { fields, weights } of PROJECTED) {
  gpuTest(`every candidate plan agrees with the reference: ${fields}`, async () => {
    const model = modelOf(fields);
    const { X, Q } = data(150, 37, 13, 17);
    for (const { label, choices } of candidatePlans(model)) {
      await agree(model, X, Q, choices, label, { weights });
    }
    await agree(model, X, Q, { loopBudget: 2000 }, "budget 2000", { weights });
  });
}

gpuTest("features models refuse GPU weights with a message", async () => {
  const model = modelOf("similarity features(map = relu, count = 16)");
  const { X, Q } = data(40, 8, 3, 1);
  const r = await load(model, X);
  await assert.rejects(() => r.retrieve(Q, { weights: true }), /never forms one weight/);
  r.destroy();
});

gpuTest("memories over one storage binding are split across buffers and merged", async (ctx) => {
  // A binding of 64 KiB holds 256 rows at D = 64: 1000 memories span 4 buffers, and the score
  // rows of the three-pass schedule put the 21 queries in several slices.
  const limits = { ...ctx.limits, maxStorageBufferBindingSize: 65536 };
  const { X, Q } = data(1000, 64, 21, 5);
  for (
    const fields of [
      "entropy shannon beta 8 steps 2",
      "entropy sparsemax beta 8 steps 2",
      "mask topk(k = 9) beta 8",
      "entropy tsallis(alpha = 1.5) similarity cosine post l2 beta 8 steps 3",
    ]
  ) {
    const model = modelOf(fields);
    const r = await load(model, X, undefined, { limits });
    assert.ok(r.blockedPlan!.rowsPerChunk < 1000, "the memories span several buffers");
    r.destroy();
    for (const { label, choices } of candidatePlans(model).filter((c) => !c.choices.kernel)) {
      // (Weights [21, 1000] would not fit one 64 KiB binding: refused with a message, tested below.)
      await agree(model, X, Q, { ...choices, limits }, `${fields} ${label}`);
    }
  }
});

gpuTest(
  "weights larger than one binding are refused with a message naming the limit",
  async (ctx) => {
    const limits = { ...ctx.limits, maxStorageBufferBindingSize: 65536 };
    const { X, Q } = data(1000, 64, 21, 5);
    const r = await load(modelOf("entropy sparsemax"), X, undefined, { limits });
    await assert.rejects(() => r.retrieve(Q, { weights: true }), /storage binding limit of 65536/);
    r.destroy();
  },
);

gpuTest("past the loop limit: M = 131072 at D = 64 (softmax, sparsemax, top-k)", async () => {
  const { X, Q } = data(131072, 64, 3, 21, 0.2);
  for (
    const fields of [
      "entropy shannon beta 16",
      "entropy sparsemax beta 16",
      "mask topk(k = 32) beta 16",
    ]
  ) {
    await agree(modelOf(fields), X, Q, {}, fields);
  }
});

gpuTest("past the loop limit: M = 20000 at D = 784 for 8 steps", async () => {
  const { X, Q } = data(20000, 784, 2, 31, 0.5);
  for (const fields of ["entropy shannon beta 16 steps 8", "entropy sparsemax beta 16 steps 8"]) {
    await agree(modelOf(fields), X, Q, {}, fields);
  }
});

gpuTest("past the loop limit: M = 511 at D = 794 for 128 steps, every entropy", async () => {
  const { X, Q } = data(511, 794, 2, 41, 0.5);
  for (
    const entropy of [
      "shannon",
      "softmax1",
      "tsallis(alpha = 1.25)",
      "tsallis(alpha = 1.5)",
      "tsallis(alpha = 3)",
      "sparsemax",
      "normmax(gamma = 2)",
      "normmax(gamma = 5)",
      "ksubsets(k = 1)",
      "ksubsets(k = 3)",
    ]
  ) {
    const fields = `entropy ${entropy} beta 8 steps 128`;
    await agree(modelOf(fields), X, Q, {}, fields);
  }
});

gpuTest(
  "the workgroup kernel at the largest M its loop estimate allows agrees with the reference",
  async (ctx) => {
    // The one-workgroup-per-query kernel runs every step in one invocation; its loop estimate is
    // what lets a tuned plan choose it. At the edge of the estimate it must still be right (past
    // llvmpipe's real limit it would silently stop its loops), and one row more is refused.
    for (
      const fields of [
        "entropy shannon beta 4",
        "entropy sparsemax beta 4",
        "mask topk(k = 8) beta 4",
      ]
    ) {
      const model = modelOf(fields);
      const kernel = kernelSpec(model);
      const D = 64, budget = 60000;
      const fits = (M: number) =>
        workgroupKernelIterations(
          kernel,
          planShapes(kernel, M, D, ctx.limits),
          M,
          1,
          kernel.blocked!.bisection,
        ) <= budget;
      let lo = 1, hi = 1 << 22;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (fits(mid)) lo = mid;
        else hi = mid - 1;
      }
      const { X, Q } = data(lo, D, 2, 51, 0.5);
      await agree(
        model,
        X,
        Q,
        { kernel: "workgroup", loopBudget: budget },
        `${fields} at M = ${lo}`,
      );
      const { X: over } = data(lo + 1, D, 2, 51, 0.5);
      await assert.rejects(
        () => load(model, over, undefined, { kernel: "workgroup", loopBudget: budget }),
        /loop iterations/,
      );
    }
  },
);
