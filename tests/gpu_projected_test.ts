// The GPU kernels of continuous memory (box and gaussian bases, exact and trapezoid quadrature)
// and of features similarity against the float64 reference interpreter, with the same tolerance
// and conditioning check as tests/gpu_agreement_test.ts: states within 1e-4 of the largest entry,
// weights (bin masses E[psi] for continuous memory) within 1e-4, equal step counts, identical
// supports for the sparse densities. Each model is a covering of the options that change the
// generated kernel: basis x quadrature x entropy x similarity x post x steps x beta x shape.
import assert from "node:assert/strict";
import { sparseEntropy } from "../src/ir.ts";
import type { Model } from "../src/ir.ts";
import { makePlan } from "../src/plan/plan.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import type { GpuContext } from "../src/runtime/device.ts";
import { load } from "../src/runtime/retriever.ts";
import {
  assertAgrees,
  checkOne,
  type Data,
  mat,
  randomData,
  runGpu,
  wellConditioned,
} from "./gpu_agreement_test.ts";

import { gpuTest } from "./helpers/gpu.ts";

function text(name: string, fields: Record<string, string | number>): string {
  return `model ${name} {\n${
    Object.entries(fields).map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join("\n")
  }\n}\n`;
}

/** Memories that vary smoothly with their index (a continuous memory's natural input). */
function smoothData(L: number, D: number, B: number, seed: number, jitter = 0): Data {
  const base = randomData(8, D, B, seed, jitter);
  const X = mat(L, D, (l, d) => {
    const t = (l + 0.5) / L;
    let v = 0;
    for (let k = 0; k < 8; k++) v += Math.cos(Math.PI * k * t + k) * base.X.data[k * D + d];
    return v;
  });
  const Q = mat(B, D, (b, d) => X.data[((b * 37) % L) * D + d] + 0.1 * base.Q.data[b * D + d]);
  return { X, Q };
}

interface Case {
  label: string;
  model: Model;
  L: number;
  D: number;
  B: number;
  smooth: boolean;
}

const ENTROPIES = ["shannon", "sparsemax", "tsallis(alpha = 1.5)", "tsallis(alpha = 3)"];
const SIMS = ["dot", "cosine", "euclidean"];
const POSTS = ["identity", "l2", "layernorm", "tanh"];
const STEPS = ["1", "3", "until(tol = 1e-5, max = 12)"];
const BETAS = [1, 10, 40];

function continuousCases(): Case[] {
  const memories = [
    (N: number) => `continuous(basis = box, functions = ${N})`, // exact: the pooled pass
    (N: number) => `continuous(basis = box, functions = ${N}, quadrature = trapezoid)`,
    (N: number) => `continuous(basis = gaussian, functions = ${N})`,
    (N: number) =>
      `continuous(basis = gaussian, functions = ${N}, width = ${(3 / N).toFixed(4)}, points = 101)`,
  ];
  const shapes = [[64, 13, 3, 8], [300, 64, 5, 33], [97, 67, 2, 97], [512, 4, 8, 128]];
  const out: Case[] = [];
  let i = 0;
  for (let m = 0; m < memories.length; m++) {
    for (let e = 0; e < ENTROPIES.length; e++, i++) {
      const [L, D, B, N] = shapes[(m + e) % shapes.length];
      const fields = {
        memory: memories[m](N),
        similarity: SIMS[(i + m) % SIMS.length],
        entropy: ENTROPIES[e],
        post: POSTS[(i * 3 + m) % POSTS.length],
        beta: BETAS[(i + e) % BETAS.length],
        steps: STEPS[(i + 2 * m) % STEPS.length],
      };
      out.push({
        label: `continuous ${i}: ${JSON.stringify(fields)}`,
        model: checkOne(text(`cont${i}`, fields)),
        L,
        D,
        B,
        smooth: i % 2 === 0,
      });
    }
  }
  return out;
}

function featureCases(): Case[] {
  const maps = ["positive", "relu", "elu"];
  const out: Case[] = [];
  for (let i = 0; i < 9; i++) {
    const [L, D, B] = [[50, 13, 4], [700, 64, 3], [3000, 8, 6]][i % 3];
    const fields = {
      similarity: `features(map = ${maps[i % 3]}, count = ${
        [16, 100, 256][(i + 1) % 3]
      }, seed = ${i})`,
      post: POSTS[(i * 2 + 1) % POSTS.length],
      beta: [0.5, 1, 4][Math.floor(i / 3)],
      steps: STEPS[(i + 1) % STEPS.length],
    };
    out.push({
      label: `features ${i}: ${JSON.stringify(fields)}`,
      model: checkOne(text(`feat${i}`, fields)),
      L,
      D,
      B,
      smooth: false,
    });
  }
  return out;
}

async function agree(ctx: GpuContext, c: Case) {
  const reasons: string[] = [];
  const support = sparseEntropy(c.model.entropy);
  for (let seed = 1; seed < 4; seed++) {
    const make = (jitter: number) =>
      c.smooth ? smoothData(c.L, c.D, c.B, seed, jitter) : randomData(c.L, c.D, c.B, seed, jitter);
    const data = make(0);
    const ref = retrieveReference(c.model, data.X, data.Q);
    const why = wellConditioned(c.model, ref, make(1e-6), support);
    if (why) {
      reasons.push(`seed ${seed}: ${why}`);
      continue;
    }
    const gpu = await runGpu(ctx, c.model, data);
    const plan = makePlan(c.model, { M: c.L, D: c.D }, ctx.limits);
    return {
      plan,
      agreement: assertAgrees(c.model, data, ref, gpu, {
        exactSupport: support,
        where: `${c.label} [L=${c.L} D=${c.D} B=${c.B} seed=${seed}] plan=${plan.family}`,
      }),
    };
  }
  throw new Error(`${c.label}: no well-conditioned inputs: ${reasons.join("; ")}`);
}

gpuTest(
  "continuous memory on the GPU agrees with the reference: box and gaussian, exact and trapezoid",
  async (ctx) => {
    const cases = continuousCases();
    const seen = new Set<string>();
    let worst = 0;
    for (const c of cases) {
      const { plan, agreement } = await agree(ctx, c);
      worst = Math.max(worst, agreement.states);
      const mem = c.model.memory;
      if (mem.kind !== "continuous") throw new Error("unreachable");
      // Box + exact is planned as the pooled discrete kernel, everything else as quadrature.
      const pooled = mem.basis === "box" && mem.quadrature === "exact";
      assert.equal(
        plan.lowering?.pass,
        pooled ? "continuous-box-exact-to-pooled" : "continuous-quadrature",
      );
      assert.equal(plan.family === "quadrature", !pooled, c.label);
      seen.add(`${mem.basis}/${mem.quadrature}/${c.model.entropy.kind}`);
    }
    for (const combo of ["box/exact", "box/trapezoid", "gaussian/trapezoid"]) {
      for (const e of ["shannon", "sparsemax", "tsallis"]) {
        assert.ok(seen.has(`${combo}/${e}`), combo + e);
      }
    }
    console.log(
      `  ${cases.length} continuous models, largest state error ${worst.toExponential(2)}`,
    );
  },
);

gpuTest(
  "features similarity on the GPU agrees with the reference (positive, relu, elu)",
  async (ctx) => {
    let worst = 0;
    for (const c of featureCases()) {
      const { plan, agreement } = await agree(ctx, c);
      assert.equal(plan.family, "features");
      assert.equal(plan.lowering?.pass, "features-kernel");
      worst = Math.max(worst, agreement.states);
    }
    console.log(`  9 features models, largest state error ${worst.toExponential(2)}`);
  },
);

gpuTest(
  "features on the GPU: per-memory weights are refused with a hint, states still come",
  async (ctx) => {
    const model = checkOne(text("f", { similarity: "features(count = 32)" }));
    const data = randomData(20, 8, 2, 3);
    const r = await load(model, data.X, ctx);
    try {
      const err = await r.retrieve(data.Q, { weights: true }).then(() => null, (e) => e);
      assert.ok(err instanceof Error);
      assert.match(err.message, /never forms one weight per memory/);
      const out = await r.retrieve(data.Q);
      assert.equal(out.states.length, 2 * 8);
    } finally {
      r.destroy();
    }
  },
);

gpuTest("features on the GPU: the device holds [W; KV] and ksum, whatever M is", async (ctx) => {
  // The kernel never reads the memories: 2F rows of D, and F + 1 numbers (ksum, c_k).
  const model = checkOne(text("f", { similarity: "features(count = 64)", beta: 0.5 }));
  for (const M of [10, 1000, 20000]) {
    const data = randomData(M, 16, 2, 5);
    const r = await load(model, data.X, ctx);
    try {
      assert.equal(r.deviceBytes, 2 * 64 * 16 * 4 + Math.ceil(65 / 4) * 16, `M = ${M}`);
    } finally {
      r.destroy();
    }
  }
});
