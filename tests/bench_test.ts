// Tests of the benchmark (bench/main.ts) and its baselines (bench/lib/): the unfused WebGPU
// pipeline (top-k softmax included) against the float64 reference, the hand-written ONNX graph
// loaded and run by onnxruntime-web's WebGPU provider, the load-rate kernel, the round-robin
// timing, the table's FAILED marking, and one end-to-end run of bench/main.ts on tiny shapes.
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
  gemmLoopIterations,
  gemmRegisterWgsl,
  gemmWgsl,
  loadUnfused,
  normalizerWgsl,
  unfusedUnsupported,
} from "../bench/lib/unfused.ts";
import { buildRetrievalOnnx, createOrtRetrieval, loadOrt } from "../bench/lib/ort.ts";
import { relativeError, timeInterleaved } from "../bench/lib/common.ts";
import { loadRateWgsl, measureLoadRate } from "../bench/lib/loadrate.ts";
import { type Cell, CHECK_TOL, table } from "../bench/main.ts";

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
  for (
    const n of ["softmax", "1.5-entmax", "sparsemax", "2-normmax", "topk-softmax"] as const
  ) {
    assert.equal(unfusedUnsupported(benchModel(n, 2, 3)), null, n);
  }
  assert.deepEqual(benchModel("topk-softmax", 2, 1).mask, { kind: "topk", k: 32 });
  const m = benchModel("softmax", 1, 1);
  assert.match(unfusedUnsupported({ ...m, post: { kind: "tanh" } })!, /tanh/);
  assert.match(unfusedUnsupported({ ...m, entropy: { kind: "ksubsets", k: 2 } })!, /ksubsets/);
  const topkSparse = { ...benchModel("sparsemax", 1, 1), mask: { kind: "topk" as const, k: 3 } };
  assert.match(unfusedUnsupported(topkSparse)!, /softmax only/);
  assert.match(
    unfusedUnsupported({ ...m, mask: { kind: "random", keep: 0.5, seed: 1 } })!,
    /random/,
  );
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
  const topk = normalizerWgsl({ kind: "shannon" }, 32);
  assert.match(topk, /top-32, then/);
  assert.match(topk, /for \(var r = 0u; r < 32u/);
  assert.throws(() => normalizerWgsl({ kind: "sparsemax" }, 4), /softmax only/);
  assert.match(loadRateWgsl(256), /i < 256u; i = i \+ 4u/);
  assert.throws(() => loadRateWgsl(6), /multiple of 4/);
});

gpuTest("unfused: a GEMM whose loops would pass the loop budget is refused", async () => {
  // The shared GEMM's readout over K = M = 36 runs 2 K tiles of 65 iterations (+ the writes); the
  // register one with vec4 loads 9 (+ the writes).
  assert.equal(gemmLoopIterations("shared", 36, false), 2 * 65 + 20);
  assert.equal(gemmLoopIterations("register", 36, true), 9 + 20);
  assert.equal(gemmLoopIterations("register", 36, false), 36 + 20);
  // At M = 65536 on llvmpipe (budget 60000) only the vec4 register GEMM fits.
  assert.ok(gemmLoopIterations("shared", 65536, true) > 60000);
  assert.ok(gemmLoopIterations("register", 65536, true) < 60000);
  const { X, Q } = data(36, 12, 3);
  const model = benchModel("softmax", 2, 1);
  await assert.rejects(
    loadUnfused(model, X, ctx!, { gemm: "shared", loopBudget: 100 }),
    /shared GEMM of the readout \(K = 36\) would run 150 loop iterations/,
  );
  const u = await loadUnfused(model, X, ctx!, { gemm: "register", loopBudget: 100 });
  try {
    const e = relativeError(
      (await u.retrieve(Q)).states,
      retrieveReference(model, X, Q).states.data,
    );
    assert.ok(e < 1e-4, `relative error ${e}`);
  } finally {
    u.destroy();
  }
});

gpuTest(
  "unfused top-k softmax matches the reference, ties broken by the lowest index",
  async () => {
    for (const gemm of ["shared", "register"] as const) {
      // Random data (k = 32 below and above M), and tied scores: with q = e_0 the scores are
      // x[j][0], set in triples to powers of 1/2, so the 32nd score is tied with the 33rd; the rows
      // differ elsewhere, so keeping a higher-index tied row changes the state.
      for (const [M, D, B, steps] of [[37, 12, 5, 1], [300, 16, 7, 3], [20, 8, 3, 2]]) {
        const { X, Q } = data(M, D, B);
        const model = benchModel("topk-softmax", 4, steps);
        const u = await loadUnfused(model, X, ctx!, { gemm });
        try {
          const e = relativeError(
            (await u.retrieve(Q)).states,
            retrieveReference(model, X, Q).states.data,
          );
          assert.ok(e < 1e-4, `${gemm} ${M}x${D}x${B}, ${steps} steps: relative error ${e}`);
        } finally {
          u.destroy();
        }
      }
      const M = 50, D = 8;
      const { X } = data(M, D, 1);
      for (let j = 0; j < M; j++) X.data[j * D] = 0.5 ** (Math.floor(((j * 7) % M) / 3) % 17);
      const Q = { rows: 2, cols: D, data: new Float64Array(2 * D) };
      Q.data[0] = 1;
      Q.data[D] = 0.5;
      const model = benchModel("topk-softmax", 1, 1);
      const ref = retrieveReference(model, X, Q);
      assert.equal(ref.weights.data.filter((w) => w > 0).length, 2 * 32);
      const u = await loadUnfused(model, X, ctx!, { gemm });
      try {
        const e = relativeError((await u.retrieve(Q)).states, ref.states.data);
        assert.ok(e < 1e-5, `${gemm}, tied scores: relative error ${e}`);
      } finally {
        u.destroy();
      }
    }
  },
);

gpuTest("the load-rate kernel sums the buffer (checked) and gives a rate", async () => {
  const r = await measureLoadRate(ctx!, { bytes: 1 << 20, blocks: [4, 64], minTime: 0 });
  assert.equal(r.bytes, 1 << 20);
  assert.ok(r.checked, "the kernel's sums match the host's");
  assert.equal(r.trials.length, 2);
  assert.ok(r.loadsPerSecond > 0 && Number.isFinite(r.loadsPerSecond));
  assert.equal(r.loadsPerSecond, Math.max(...r.trials.map((t) => t.loadsPerSecond)));
});

Deno.test("timeInterleaved: round-robin rounds, medians, and a failing path leaves", async () => {
  const calls: string[] = [];
  let bad = 0;
  const { results, rounds } = await timeInterleaved([
    { name: "a", fn: () => Promise.resolve(calls.push("a")) },
    { name: "b", fn: () => Promise.resolve(calls.push("b")) },
    {
      name: "c",
      fn: () => {
        if (++bad > 2) throw new Error("boom");
        calls.push("c");
        return Promise.resolve(0);
      },
    },
  ], 0);
  assert.equal(rounds, 3);
  // Warm-ups in order, then rounds rotated by one (b c a in round 1, where c throws on its third
  // call and leaves; a b in round 2).
  assert.deepEqual(calls, ["a", "b", "c", "a", "b", "c", "b", "a", "a", "b"]);
  assert.equal(results.get("a")!.first, 1);
  assert.equal(results.get("a")!.timing!.n, 3);
  assert.equal(results.get("b")!.timing!.n, 3);
  assert.match(String(results.get("c")!.error), /boom/);
  assert.equal(results.get("c")!.timing, undefined);
});

Deno.test("the bench table marks a cell whose check fails as FAILED, and '–' where a path does not apply", () => {
  const base = {
    normalizer: "sparsemax",
    map: "entropy sparsemax",
    M: 64,
    D: 8,
    B: 4,
    steps: 1,
    flop: 4 * 64 * 8 * 4,
    unfused: { skipped: "not applicable: x" },
    ort: { skipped: "not applicable (softmax only)" },
    ratios: {},
  } as const;
  const timing = { ms: 2, min: 2, max: 2, n: 3, warmupMs: 5, gflops: 1 };
  const check = (relErr: number) => ({
    against: "float64 reference",
    queries: 2,
    relErr,
    tol: CHECK_TOL,
    ok: relErr <= CHECK_TOL,
  });
  const cells: Cell[] = [
    { ...base, status: "ok", hopc: { timing, check: check(1e-7) } },
    { ...base, status: "FAILED", hopc: { timing, check: check(0.5) } },
  ];
  const rows = table(cells).split("\n");
  assert.equal(rows.length, 4);
  assert.match(
    rows[0],
    /\| map .*\| hopc ms .*\| vs unfused .*\| ÷ softmax .*\| ÷ 1 step .*\| ÷ X reads .*\| plan .*\| check/,
  );
  assert.doesNotMatch(rows[2], /FAILED/);
  assert.match(rows[3], /FAILED 5\.0e-1/);
  assert.match(rows[2], /\| +– \|/);
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

gpuTest(
  "bench/main.ts on tiny shapes: every hopc cell checked, plans, ratios, load rate, JSON",
  async () => {
    const out = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const cmd = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../bench/main.ts", import.meta.url).pathname,
          "--shapes",
          "40x12x6,300x8x1",
          "--steps",
          "1,2",
          "--only",
          "softmax,topk-softmax",
          "--min-time",
          "0",
          "--load-mib",
          "1",
          "--out",
          out,
        ],
        cwd: new URL("..", import.meta.url).pathname,
        stdout: "piped",
        stderr: "piped",
      });
      const { code, stdout, stderr } = await cmd.output();
      const text = new TextDecoder().decode(stdout);
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      assert.match(text, /\| map +\| +M \|/);
      assert.match(text, /Load rate: .* f32 loads\/s/);
      assert.match(text, /0 FAILED/);
      const report = JSON.parse(await Deno.readTextFile(out));
      assert.ok(report.loadRate.checked && report.loadRate.loadsPerSecond > 0);
      assert.equal(report.cells.length, 2 * 2 * 2);
      for (const c of report.cells) {
        const name = `${c.normalizer} ${c.M}x${c.D}x${c.B} ${c.steps}`;
        assert.equal(c.status, "ok", name);
        assert.ok(c.hopc.timing.ms > 0 && c.unfused.timing.ms > 0, name);
        assert.ok(c.hopc.check.relErr <= c.hopc.check.tol, name);
        assert.equal(c.hopc.check.queries, Math.min(2, c.B));
        assert.ok(c.hopc.plan.kernel, name);
        assert.ok(c.ratios.hopcVsUnfused > 0, name);
        if (c.normalizer === "topk-softmax") {
          assert.match(c.ort.skipped, /not applicable/);
          assert.ok(c.ratios.overSoftmax.hopc > 0, name);
        }
        if (c.steps === 2) assert.ok(c.ratios.overOneStep.hopc > 0, name);
        if (c.B === 1) assert.ok(c.ratios.overXRead.hopc > 0 && c.ratios.overXReads.hopc > 0, name);
        else assert.equal(c.ratios.overXRead, undefined, name);
      }
    } finally {
      await Deno.remove(out).catch(() => {});
    }
  },
);

gpuTest("bench/main.ts --tune: each cell times the tuner's winner and says so", async () => {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../bench/main.ts", import.meta.url).pathname,
        ...["--shapes", "40x12x6", "--steps", "1", "--only", "softmax,sparsemax"],
        ...["--min-time", "0", "--load-mib", "1", "--no-ort", "--tune", "0.01", "--out", out],
      ],
      cwd: new URL("..", import.meta.url).pathname,
      env: { HOPC_PLAN_CACHE: `${out}.plans.json` },
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await cmd.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(new TextDecoder().decode(stdout), / tuned +\|/);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.equal(report.cells.length, 2);
    for (const c of report.cells) {
      assert.equal(c.status, "ok");
      assert.equal(typeof c.hopc.tuned, "string", c.normalizer);
      assert.equal(c.hopc.plan.source, "tuned", c.normalizer);
      assert.ok(c.hopc.check.relErr <= c.hopc.check.tol, c.normalizer);
    }
  } finally {
    await Deno.remove(out).catch(() => {});
  }
});
