// The library entry point (mod.ts) as a user sees it: compile a source string (diagnostics with
// line and column for a bad one), load and retrieve on the GPU against the float64 reference,
// pipelines reused across loads on one device (counted at createShaderModule), .npy bytes, and the
// browser rule: nothing mod.ts imports touches `Deno.` (src/host/deno.ts is the only door, and it
// never names a Deno member itself).
import assert from "node:assert/strict";
import {
  compile,
  compileStats,
  encodeNpy,
  formatDiagnostics,
  HopError,
  load,
  matrix,
  readNpy,
  reference,
} from "../mod.ts";
import { syntheticData } from "../src/runtime/tune.ts";
import { gpuTest } from "./helpers/gpu.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const root = new URL("../", import.meta.url);

const SOURCE = `
param b = 4
model sparse { entropy tsallis(alpha = 1.5)  post l2  beta b  steps 3 }
model soft { beta 2 }
`;

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

Deno.test("compile: a source string gives every model's IR, plan and WGSL", async () => {
  const result = compile(SOURCE, { sets: { b: 6 } });
  assert.equal(result.ok, true);
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.models.map((m) => m.name), ["sparse", "soft"]);
  const sparse = result.model("sparse");
  assert.equal(sparse.ir.beta, 6); // the --set override
  assert.deepEqual(sparse.ir.entropy, { kind: "tsallis", alpha: 1.5 });
  assert.equal(sparse.gpuUnsupported, null);
  const plan = await sparse.plan({ M: 1000, D: 30 });
  assert.equal(plan.kernel, "blocked");
  assert.deepEqual(plan.shapes, { M: 1000, D: 30 });
  const wgsl = await sparse.wgsl({ M: 1000, D: 30 });
  assert.match(wgsl, /@compute/);
  assert.notEqual(wgsl, await result.model("soft").wgsl({ M: 1000, D: 30 }));
});

Deno.test("compile: a bad source gives diagnostics with line and column, never a throw", () => {
  const text = "model ok { beta 2 }\nmodel bad {\n  entropy tsalis(alpha = 1.5)\n  beta 0\n}\n";
  const result = compile(text, { file: "bad.hop" });
  assert.equal(result.ok, false);
  assert.deepEqual(result.models.map((m) => m.name), ["ok"]); // the good model survives
  const [typo, beta] = result.diagnostics;
  assert.deepEqual([typo.file, typo.line, typo.col], ["bad.hop", 3, 11]);
  assert.match(typo.message, /unknown entropy `tsalis`/);
  assert.equal(typo.hint, "did you mean `tsallis`?");
  assert.equal(beta.line, 4);
  const printed = result.format();
  assert.match(printed, /^bad\.hop:3:11: error: unknown entropy `tsalis`\n {4}entropy tsalis/);
  assert.match(printed, /\n {12}\^{6}\n/);
  assert.equal(formatDiagnostics(result.diagnostics, { "bad.hop": text }), printed);
  assert.throws(() => result.model("nope"), (e: unknown) => {
    assert.ok(e instanceof HopError);
    assert.match(e.message, /no model named `nope`.*\(it defines ok\)/);
    return true;
  });
  const empty = compile("model { beta }");
  assert.equal(empty.ok, false);
  assert.ok(empty.diagnostics.every((d) => d.line === 1 && d.col >= 1));
});

Deno.test("reference: float64 retrieval from plain arrays; bad inputs are HopErrors", () => {
  const soft = compile(SOURCE).model("soft");
  const X = matrix([[1, 0], [0, 1]]);
  const out = reference(soft, X, matrix([[1, 0]]));
  // softmax over beta * (1, 0) = (2, 0): weights (e^2, 1) / (e^2 + 1), the state their mix of X.
  const w = Math.exp(2) / (Math.exp(2) + 1);
  assert.ok(Math.abs(out.states.data[0] - w) < 1e-15);
  assert.ok(Math.abs(out.weights.data[1] - (1 - w)) < 1e-15);
  assert.throws(() => reference(soft, X, matrix([[1, 0, 0]])), HopError); // D mismatch
  assert.throws(
    () => reference(soft, X, { rows: 1, cols: 2, data: [NaN, 0] }),
    /queries:1:1: error: NaN at row 0, column 0/,
  );
  assert.throws(() => reference(soft, { rows: 2, cols: 2, data: [1, 2, 3] }, X), /needs 4 values/);
  assert.throws(() => matrix([[1, 2], [3]]), RangeError);
});

Deno.test("readNpy / encodeNpy: bytes round trip; bad bytes name the array", () => {
  const a = { rows: 2, cols: 3, data: [0.5, -1, 2, 3.25, 0, 1e-3] };
  const back = readNpy(encodeNpy(a), "a.npy");
  assert.deepEqual([back.rows, back.cols], [2, 3]);
  assert.deepEqual(Array.from(back.data), a.data.map(Math.fround));
  assert.throws(() => readNpy(new Uint8Array([1, 2, 3]), "junk.npy"), (e: unknown) => {
    assert.ok(e instanceof HopError);
    assert.equal(e.diagnostics[0].file, "junk.npy");
    return true;
  });
});

gpuTest(
  "load + retrieve on the GPU agree with the reference; the code is the WGSL compile gives",
  async (ctx) => {
    const model = compile(SOURCE).model("sparse");
    const { X, Q } = syntheticData(200, 24, 9, 5);
    const memory = await load(ctx, model, X);
    try {
      assert.deepEqual(memory.shapes, { M: 200, D: 24 });
      const out = await memory.retrieve(Q, { weights: true });
      const exact = reference(model, X, Q);
      assert.deepEqual([out.states.rows, out.states.cols], [9, 24]);
      assert.ok(relErr(out.states.data, exact.states.data) < 1e-4);
      assert.deepEqual([out.weights!.rows, out.weights!.cols], [9, 200]);
      assert.ok(relErr(out.weights!.data, exact.weights.data) < 1e-4);
      assert.deepEqual(Array.from(out.stepsRun), exact.stepsRun);
      assert.equal(memory.code, await model.wgsl({ M: 200, D: 24 }, ctx));
      assert.equal(memory.plan.kernel, "blocked");
      await assert.rejects(memory.retrieve(matrix([[1, 2]])), HopError); // D = 2, not 24
    } finally {
      memory.destroy();
    }
    // A bare GPUDevice works too: its adapter is read from device.adapterInfo, so the plan is the
    // same as with hopc's own context (on llvmpipe that includes the loop budget).
    const bare = await load(ctx.device, model, X);
    try {
      assert.deepEqual(bare.plan, memory.plan);
      const out = await bare.retrieve(Q);
      assert.ok(relErr(out.states.data, reference(model, X, Q).states.data) < 1e-4);
    } finally {
      bare.destroy();
    }
  },
);

gpuTest(
  "a sweep reuses compiled pipelines: other memories compile nothing, a new beta once",
  async (ctx) => {
    const device = ctx.device;
    let modules = 0;
    const create = device.createShaderModule;
    device.createShaderModule = (d) => {
      modules++;
      return create.call(device, d);
    };
    try {
      // A beta no other test uses, so the first load must compile (the counter is live).
      const first = compile(SOURCE, { sets: { b: 3.375 } }).model("sparse");
      const run = async (m: typeof first, seed: number) => {
        const { X, Q } = syntheticData(96, 16, 4, seed);
        const memory = await load(ctx, m, X);
        const out = await memory.retrieve(Q);
        memory.destroy();
        assert.ok(relErr(out.states.data, reference(m, X, Q).states.data) < 1e-4);
      };
      const before = compileStats();
      await run(first, 1);
      const compiled = modules;
      assert.ok(compiled >= 1);
      await run(first, 2); // other memories and queries, same shape
      await run(compile(SOURCE, { sets: { b: 3.375 } }).model("sparse"), 3); // compiled anew
      assert.equal(modules, compiled, "reloading the same kernel made a shader module");
      const stats = compileStats();
      assert.equal(stats.builds - before.builds, compiled);
      assert.ok(stats.hits - before.hits >= 2);
      // beta is part of the WGSL text: a new value compiles its own kernel, once.
      await run(compile(SOURCE, { sets: { b: 5.125 } }).model("sparse"), 4);
      assert.equal(modules, 2 * compiled);
    } finally {
      device.createShaderModule = create;
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Browser safety

interface GraphModule {
  specifier: string;
  local?: string;
}

/** The modules `entry` reaches, from `deno info --json`. */
async function moduleGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: GraphModule[] };
  return info.modules.map((m) => m.specifier);
}

/** Local modules of the graph that name a Deno member (comments stripped), with the first use. */
async function denoUses(entry: string): Promise<string[]> {
  const found: string[] = [];
  for (const specifier of await moduleGraph(entry)) {
    if (!specifier.startsWith("file:")) continue;
    const code = (await Deno.readTextFile(new URL(specifier)))
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
    const m = /\bDeno\s*\.\s*\w+/.exec(code);
    if (m) found.push(`${specifier.slice(root.href.length)}: ${m[0]}`);
  }
  return found;
}

Deno.test("browser safety: nothing mod.ts imports uses Deno.*; the check does catch it", async () => {
  assert.deepEqual(await denoUses("mod.ts"), []);
  const graph = await moduleGraph("mod.ts");
  // From npm only the parser, the schema library and WebGPU's type declarations (compilerOptions;
  // erased from the bundle); no command-line module is reached.
  const npm = graph.filter((s) => s.startsWith("npm:")).map((s) => s.replace(/@[^@/]*$/, ""));
  assert.deepEqual([...new Set(npm)].sort(), ["npm:/@webgpu/types", "npm:/chevrotain", "npm:/zod"]);
  assert.ok(!graph.some((s) => /\/src\/cli\/|\/src\/io\/files\.ts$|\/src\/compile\//.test(s)));
  // The same walk on the command line's file IO finds it (the walk is not vacuous).
  assert.deepEqual(await denoUses("src/io/files.ts"), ["src/io/files.ts: Deno.readFile"]);
});

Deno.test("deno task bundle: the browser bundle builds and runs compile and reference without Deno", async () => {
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bundle"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
  const bundle = new URL("dist/hopc.js", root);
  const source = await Deno.readTextFile(new URL("examples/sparse_l2.hop", root));
  // A child process deletes the Deno global before importing the bundle, as a page has none.
  const script = `
    const [url, source] = JSON.parse(Deno.args[0]);
    delete globalThis.Deno;
    const hopc = await import(url);
    const result = hopc.compile(source, { file: "sparse_l2.hop" });
    const bad = hopc.compile("model m { entropy tsalis }");
    const X = hopc.matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const out = hopc.reference(result.model("sparse_l2"), X, hopc.matrix([[0.9, 0.3, 0]]));
    const plan = await result.model("sparse_l2").plan({ M: 512, D: 32 });
    console.log(JSON.stringify({
      deno: typeof Deno,
      names: result.models.map((m) => m.name),
      bad: bad.diagnostics.map((d) => [d.line, d.col, d.message]),
      states: Array.from(out.states.data),
      kernel: plan.kernel,
    }));`;
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", script, JSON.stringify([bundle.href, source])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
  const got = JSON.parse(new TextDecoder().decode(run.stdout));
  assert.equal(got.deno, "undefined");
  assert.deepEqual(got.names, ["sparse_l2", "continuous_video"]);
  assert.deepEqual(got.bad, [[1, 19, "unknown entropy `tsalis`"]]);
  const model = compile(source).model("sparse_l2");
  const exact = reference(
    model,
    matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    matrix([[0.9, 0.3, 0]]),
  );
  assert.deepEqual(got.states, Array.from(exact.states.data));
  assert.equal(got.kernel, "blocked");
});
