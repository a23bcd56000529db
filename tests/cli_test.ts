// The command line, in process (LANGUAGE.md §3): `check`, `explain --emit ast|ir`, and
// `retrieve --device cpu` against the float64 reference; every input error exits 1 and writes no
// output file at all; every usage error exits 2. Everything runs with `--device cpu` (the GPU
// path has its own tests).
import assert from "node:assert/strict";
import { main } from "../src/cli/main.ts";
import { checkText } from "../src/check.ts";
import { encodeNpy, parseNpy } from "../src/io/npy.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { readoutPart, similarityPart } from "../src/parts/registry.ts";

// Mesa complains on stderr without a runtime dir (main.ts imports the WebGPU runtime).
if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const root = new URL("../", import.meta.url);
const examplePath = (name: string) => new URL(`examples/${name}`, root).pathname;
const exampleNames = [...Deno.readDirSync(new URL("examples/", root))]
  .filter((e) => e.isFile && e.name.endsWith(".hop"))
  .map((e) => e.name)
  .sort();

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `hopc ARGV` in process, capturing what it prints. */
async function hopc(...argv: string[]): Promise<Run> {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A fresh temporary directory, removed after `fn`. */
async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hopc-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Deterministic data with entries exactly representable in float32. */
function data(rows: number, cols: number, seed: number): Mat {
  const d = new Float64Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = Math.fround((s / 4294967296) * 2 - 1);
  }
  return { rows, cols, data: d };
}

async function writeNpy(path: string, a: Mat) {
  await Deno.writeFile(path, encodeNpy(a));
}

async function readNpyFile(path: string): Promise<Mat> {
  return parseNpy(await Deno.readFile(path), path);
}

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** The checked model NAME of an example file (with `--set` overrides). */
function exampleModel(file: string, name: string, sets: Record<string, number> = {}): Model {
  const path = examplePath(file);
  const { models, diagnostics } = checkText(Deno.readTextFileSync(path), path, sets);
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  const m = models.find((m) => m.name === name);
  assert.ok(m, `no model ${name} in ${file}`);
  return m;
}

// ---------------------------------------------------------------------------------------------
// check

Deno.test("check: every example exits 0 (and prints [] with --json)", async () => {
  assert.ok(exampleNames.length >= 8);
  for (const name of exampleNames) {
    const r = await hopc("check", examplePath(name));
    assert.equal(r.code, 0, `${name}: ${r.err}`);
    assert.match(r.out, /model\(s\) ok/);
    const j = await hopc("check", examplePath(name), "--json");
    assert.equal(j.code, 0);
    assert.deepEqual(JSON.parse(j.out), []);
  }
});

Deno.test("check: a broken file exits 1 with FILE:LINE:COL, the source line and a caret", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/broken.hop`;
    await Deno.writeTextFile(
      file,
      "# two mistakes\nmodel m {\n  entropy tsalis(alpha = 1.5)\n  beta    0\n}\n",
    );
    const r = await hopc("check", file);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    const lines = r.err.split("\n");
    const at = lines.findIndex((l) => l.startsWith(`${file}:3:11: error: `));
    assert.ok(at >= 0, r.err);
    assert.match(lines[at], /unknown entropy `tsalis`/);
    // Each is followed by the source line and a caret under the span (both indented by 2).
    assert.equal(lines[at + 1], "    entropy tsalis(alpha = 1.5)");
    assert.equal(lines[at + 2], `  ${" ".repeat(10)}^^^^^^`);
    assert.match(r.err, /did you mean `tsallis`/);
    const beta = lines.findIndex((l) => l.startsWith(`${file}:4:11: error: `));
    assert.ok(beta > at, r.err);
    assert.equal(lines[beta + 1], "    beta    0");
    assert.equal(lines[beta + 2], `  ${" ".repeat(10)}^`);

    const j = await hopc("check", file, "--json");
    assert.equal(j.code, 1);
    const diags = JSON.parse(j.out);
    assert.ok(Array.isArray(diags) && diags.length === 2, j.out);
    for (const d of diags) {
      assert.equal(d.file, file);
      assert.equal(d.severity, "error");
      assert.equal(typeof d.message, "string");
    }
    assert.deepEqual(diags.map((d: { line: number; col: number }) => [d.line, d.col]), [
      [3, 11],
      [4, 11],
    ]);

    // The fixture with many mistakes reports each of them.
    const many = new URL("tests/fixtures/errors/many.hop", root).pathname;
    const m = await hopc("check", many, "--json");
    assert.equal(m.code, 1);
    assert.ok(JSON.parse(m.out).length >= 8, m.out);

    // A missing .hop file is an input error too.
    const missing = await hopc("check", `${dir}/nope.hop`);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.hop:1:1: error: cannot read the file/);
  });
});

// ---------------------------------------------------------------------------------------------
// explain

Deno.test("explain --emit ast|ir prints JSON; --model selects one model", async () => {
  const file = examplePath("entmax.hop");
  const ast = await hopc("explain", file, "--emit", "ast");
  assert.equal(ast.code, 0, ast.err);
  const parsed = JSON.parse(ast.out);
  assert.deepEqual(parsed.models.map((m: { name: string }) => m.name), [
    "entmax15",
    "sparsemax_dot",
  ]);
  const one = JSON.parse((await hopc("explain", file, "--emit", "ast", "--model", "entmax15")).out);
  assert.deepEqual(one.models.map((m: { name: string }) => m.name), ["entmax15"]);

  const all = await hopc("explain", file, "--emit", "ir");
  assert.equal(all.code, 0);
  assert.deepEqual(JSON.parse(all.out).map((m: Model) => m.name), ["entmax15", "sparsemax_dot"]);
  const ir = JSON.parse((await hopc("explain", file, "--model", "sparsemax_dot")).out); // ir: default
  assert.equal(ir.name, "sparsemax_dot");
  assert.deepEqual(ir.entropy, { kind: "sparsemax" });
  assert.equal(ir.beta, 1);

  // --set reaches the IR through the param.
  const params = examplePath("params.hop");
  const set = JSON.parse(
    (await hopc("explain", params, "--model", "tuned_entmax", "--set", "b=8", "--set", "a=2")).out,
  );
  assert.equal(set.beta, 8);
  assert.deepEqual(set.entropy, { kind: "tsallis", alpha: 2 });
  assert.equal(JSON.parse((await hopc("explain", params, "--model", "tuned_entmax")).out).beta, 4);

  for (const emit of ["ast", "ir"]) {
    const bad = await hopc("explain", file, "--emit", emit, "--model", "nope");
    assert.equal(bad.code, 1, `--emit ${emit} --model nope: ${bad.out}`);
    assert.match(bad.err, /no model named `nope`.*entmax15, sparsemax_dot/);
  }
});

// ---------------------------------------------------------------------------------------------
// retrieve --device cpu

Deno.test("retrieve --device cpu: OUT.npy [B, D] float32 of the reference, for every example model", async () => {
  await withDir(async (dir) => {
    const X = data(6, 4, 1), Q = data(3, 4, 2);
    await writeNpy(`${dir}/X.npy`, X);
    await writeNpy(`${dir}/Q.npy`, Q);
    // The similarities that read rows as distributions get the same data made non-negative.
    const abs = (m: Mat): Mat => ({ ...m, data: m.data.map(Math.abs) });
    await writeNpy(`${dir}/X+.npy`, abs(X));
    await writeNpy(`${dir}/Q+.npy`, abs(Q));
    // The models whose readout reads a memory graph (CDAM) get a directed cycle over the 6.
    const A: Mat = { rows: 6, cols: 6, data: new Float64Array(36) };
    for (let i = 0; i < 6; i++) A.data[i * 6 + (i + 1) % 6] = 1;
    await writeNpy(`${dir}/A.npy`, A);
    let count = 0;
    for (const name of exampleNames) {
      const path = examplePath(name);
      const { models } = checkText(Deno.readTextFileSync(path), path);
      for (const model of models) {
        const out = `${dir}/out_${model.name}.npy`;
        const plus = similarityPart(model.similarity).nonNegative ? "+" : "";
        const graph = readoutPart(model.readout).usesGraph(model.readout) ? A : undefined;
        const r = await hopc(
          "retrieve",
          path,
          "--model",
          model.name,
          "--memories",
          `${dir}/X${plus}.npy`,
          "--queries",
          `${dir}/Q${plus}.npy`,
          "-o",
          out,
          "--device",
          "cpu",
          ...(graph ? ["--graph", `${dir}/A.npy`] : []),
        );
        assert.equal(r.code, 0, `${name} ${model.name}: ${r.err}`);
        const got = await readNpyFile(out);
        assert.equal(got.rows, 3);
        assert.equal(got.cols, 4);
        const ref = plus
          ? retrieveReference(model, abs(X), abs(Q))
          : retrieveReference(model, X, Q, undefined, { graph });
        assert.deepEqual(got.data, ref.states.data.map(Math.fround), `${name} ${model.name}`);
        // The header says <f4.
        const bytes = await Deno.readFile(out);
        assert.match(new TextDecoder().decode(bytes.subarray(0, 128)), /'descr': '<f4'/);
        count++;
      }
    }
    assert.ok(count >= 15, `${count} models`);
  });
});

Deno.test("retrieve --device cpu: --weights and --trace", async () => {
  await withDir(async (dir) => {
    const X = data(7, 5, 3), Q = data(4, 5, 4);
    await writeNpy(`${dir}/X.npy`, X);
    await writeNpy(`${dir}/Q.npy`, Q);
    const file = examplePath("entmax.hop");
    const r = await hopc(
      "retrieve",
      file,
      "--model",
      "entmax15",
      "--memories",
      `${dir}/X.npy`,
      "--queries",
      `${dir}/Q.npy`,
      "-o",
      `${dir}/OUT.npy`,
      "--weights",
      `${dir}/W.npy`,
      "--trace",
      `${dir}/T.json`,
      "--device",
      "cpu",
    );
    assert.equal(r.code, 0, r.err);
    const ref = retrieveReference(exampleModel("entmax.hop", "entmax15"), X, Q);
    const W = await readNpyFile(`${dir}/W.npy`);
    assert.deepEqual([W.rows, W.cols], [4, 7]);
    assert.deepEqual(W.data, ref.weights.data.map(Math.fround));
    for (let b = 0; b < 4; b++) {
      const row = W.data.subarray(b * 7, b * 7 + 7);
      assert.ok(Math.abs(row.reduce((a, v) => a + v, 0) - 1) < 1e-6);
    }
    const trace = JSON.parse(await Deno.readTextFile(`${dir}/T.json`));
    assert.equal(trace.model, "entmax15");
    assert.equal(trace.device, "cpu");
    assert.deepEqual(trace.stepsRun, [3, 3, 3, 3]);
    assert.equal(trace.steps.length, 4); // the initial state, then 3 steps
    trace.steps.forEach((s: Record<string, unknown>, t: number) => {
      assert.equal(s.step, t);
      for (const key of ["energy", "change", "support"]) {
        const v = s[key] as number[];
        assert.ok(Array.isArray(v) && v.length === 4, `${key} of step ${t}`);
        assert.ok(v.every((x) => typeof x === "number" && Number.isFinite(x)), key);
      }
    });
    assert.deepEqual(trace.steps, JSON.parse(JSON.stringify(ref.trace)));
    for (let b = 0; b < 4; b++) {
      for (let t = 1; t < 4; t++) {
        assert.ok(trace.steps[t].energy[b] <= trace.steps[t - 1].energy[b] + 1e-12);
        assert.ok(trace.steps[t].support[b] >= 1 && trace.steps[t].support[b] <= 7);
      }
    }
  });
});

Deno.test("retrieve --device cpu: --set b=8 changes beta through the param", async () => {
  await withDir(async (dir) => {
    const X = data(8, 6, 5), Q = data(3, 6, 6);
    await writeNpy(`${dir}/X.npy`, X);
    await writeNpy(`${dir}/Q.npy`, Q);
    const file = examplePath("params.hop");
    const run = (out: string, ...extra: string[]) =>
      hopc(
        "retrieve",
        file,
        "--model",
        "tuned_entmax",
        "--memories",
        `${dir}/X.npy`,
        "--queries",
        `${dir}/Q.npy`,
        "-o",
        `${dir}/${out}`,
        "--device",
        "cpu",
        ...extra,
      );
    assert.equal((await run("plain.npy")).code, 0);
    assert.equal((await run("set.npy", "--set", "b=8")).code, 0);
    assert.equal((await run("inline.npy", "--set=b=8")).code, 0);
    const plain = await readNpyFile(`${dir}/plain.npy`);
    const set = await readNpyFile(`${dir}/set.npy`);
    const b8 = exampleModel("params.hop", "tuned_entmax", { b: 8 });
    assert.equal(b8.beta, 8);
    assert.deepEqual(set.data, retrieveReference(b8, X, Q).states.data.map(Math.fround));
    const b4 = exampleModel("params.hop", "tuned_entmax");
    assert.deepEqual(plain.data, retrieveReference(b4, X, Q).states.data.map(Math.fround));
    assert.notDeepEqual(plain.data, set.data);
    assert.deepEqual((await readNpyFile(`${dir}/inline.npy`)).data, set.data);

    // A --set of a param the file does not declare is an input error.
    const unknown = await run("unknown.npy", "--set", "nope=1");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /nope/);
    assert.ok(!(await listing(dir)).includes("unknown.npy"));
  });
});

Deno.test("retrieve: --model is required when the file has several models", async () => {
  await withDir(async (dir) => {
    await writeNpy(`${dir}/X.npy`, data(5, 3, 7));
    await writeNpy(`${dir}/Q.npy`, data(2, 3, 8));
    const r = await hopc(
      "retrieve",
      examplePath("similarities.hop"),
      "--memories",
      `${dir}/X.npy`,
      "--queries",
      `${dir}/Q.npy`,
      "-o",
      `${dir}/OUT.npy`,
      "--device",
      "cpu",
    );
    assert.equal(r.code, 1);
    assert.match(r.err, /3 models \(cosine_softmax, euclidean_softmax, manhattan_softmax\)/);
    assert.match(r.err, /--model/);
    assert.deepEqual(await listing(dir), ["Q.npy", "X.npy"]);
    // With one model, --model may be left out.
    await Deno.writeTextFile(`${dir}/one.hop`, "model only { beta 2 }\n");
    const one = await hopc(
      "retrieve",
      `${dir}/one.hop`,
      "--memories",
      `${dir}/X.npy`,
      "--queries",
      `${dir}/Q.npy`,
      "-o",
      `${dir}/OUT.npy`,
      "--device",
      "cpu",
    );
    assert.equal(one.code, 0, one.err);
  });
});

// ---------------------------------------------------------------------------------------------
// Input errors: exit 1, a message naming what is wrong, and no output file at all.

interface BadCase {
  name: string;
  file?: string;
  model?: string;
  /** Writes the inputs into dir; returns the memories and queries paths. */
  setup: (dir: string) => Promise<{ memories: string; queries: string }>;
  message: RegExp;
  /** Output paths relative to the output dir (default OUT.npy, W.npy, T.json in it). */
  outputs?: { out: string; weights: string; trace: string };
}

const plainInputs = (X: Mat, Q: Mat) => async (dir: string) => {
  await writeNpy(`${dir}/X.npy`, X);
  await writeNpy(`${dir}/Q.npy`, Q);
  return { memories: `${dir}/X.npy`, queries: `${dir}/Q.npy` };
};

const BAD: BadCase[] = [
  {
    name: "mismatched D between X and Q",
    setup: plainInputs(data(5, 4, 1), data(2, 3, 2)),
    message: /Q\.npy.*queries have dimension 3 but memories have dimension 4/,
  },
  {
    name: "NaN in X",
    setup: async (dir) => {
      const X = data(5, 4, 1);
      X.data[2 * 4 + 3] = NaN;
      return await plainInputs(X, data(2, 4, 2))(dir);
    },
    message: /X\.npy:1:1: error: NaN at row 2, column 3/,
  },
  {
    name: "infinity in Q",
    setup: async (dir) => {
      const Q = data(2, 4, 2);
      Q.data[5] = -Infinity;
      return await plainInputs(data(5, 4, 1), Q)(dir);
    },
    message: /Q\.npy:1:1: error: an infinity at row 1, column 1/,
  },
  {
    name: "a file that is not .npy",
    setup: async (dir) => {
      await Deno.writeTextFile(`${dir}/X.npy`, "1,2,3\n4,5,6\n");
      await writeNpy(`${dir}/Q.npy`, data(2, 3, 2));
      return { memories: `${dir}/X.npy`, queries: `${dir}/Q.npy` };
    },
    message: /X\.npy:1:1: error: not a usable \.npy file/,
  },
  {
    name: "a 1-D array",
    setup: async (dir) => {
      await writeNpy(`${dir}/X.npy`, data(5, 3, 1));
      const bytes = encodeNpy(data(1, 3, 2));
      // Rewrite the shape (1, 3) as (3,) in place, padded to the same header length.
      const end = 10 + (bytes[8] | (bytes[9] << 8));
      const header = new TextDecoder().decode(bytes.subarray(10, end));
      assert.ok(header.includes("(1, 3), }"));
      bytes.set(new TextEncoder().encode(header.replace("(1, 3), }", "(3,), }  ")), 10);
      await Deno.writeFile(`${dir}/Q.npy`, bytes);
      return { memories: `${dir}/X.npy`, queries: `${dir}/Q.npy` };
    },
    message: /Q\.npy.*not 2-D/,
  },
  {
    name: "a missing memories file",
    setup: async (dir) => {
      await writeNpy(`${dir}/Q.npy`, data(2, 3, 2));
      return { memories: `${dir}/missing.npy`, queries: `${dir}/Q.npy` };
    },
    message: /missing\.npy:1:1: error: cannot read the file/,
  },
  {
    name: "a missing .hop file",
    file: "/nonexistent/model.hop",
    setup: plainInputs(data(5, 3, 1), data(2, 3, 2)),
    message: /model\.hop:1:1: error: cannot read the file/,
  },
  {
    name: "topk K > M",
    file: examplePath("masks.hop"),
    model: "topk_softmax",
    setup: plainInputs(data(3, 4, 1), data(2, 4, 2)),
    message: /masks\.hop:\d+:\d+: error: .*topk K = 4 is larger than the number of memories M = 3/,
  },
  {
    name: "ksubsets k > M",
    file: examplePath("structured.hop"),
    model: "pairs_ksubsets",
    setup: plainInputs(data(1, 4, 1), data(2, 4, 2)),
    message:
      /structured\.hop:\d+:\d+: error: .*ksubsets k = 2 is larger than the number of memories M = 1/,
  },
  {
    name: "an unknown --model",
    model: "nope",
    setup: plainInputs(data(5, 4, 1), data(2, 4, 2)),
    message: /no model named `nope`/,
  },
  {
    name: "an empty memories array",
    setup: plainInputs({ rows: 0, cols: 4, data: new Float64Array(0) }, data(2, 4, 2)),
    message: /at least one row/,
  },
  {
    name: "a trace that cannot be written",
    setup: plainInputs(data(5, 4, 1), data(2, 4, 2)),
    outputs: { out: "OUT.npy", weights: "W.npy", trace: "no/such/dir/T.json" },
    message: /T\.json:1:1: error: cannot write/,
  },
  {
    name: "an output that cannot be written",
    setup: plainInputs(data(5, 4, 1), data(2, 4, 2)),
    outputs: { out: "no/such/dir/OUT.npy", weights: "W.npy", trace: "T.json" },
    message: /OUT\.npy:1:1: error: cannot write/,
  },
];

for (const c of BAD) {
  Deno.test(`retrieve: ${c.name} → exit 1 and no output files`, async () => {
    await withDir(async (dir) => {
      const inputs = `${dir}/in`, outputs = `${dir}/out`;
      await Deno.mkdir(inputs);
      await Deno.mkdir(outputs);
      const { memories, queries } = await c.setup(inputs);
      const o = c.outputs ?? { out: "OUT.npy", weights: "W.npy", trace: "T.json" };
      for (const json of [false, true]) {
        const r = await hopc(
          "retrieve",
          c.file ?? examplePath("entmax.hop"),
          ...(c.model !== null ? ["--model", c.model ?? "entmax15"] : []),
          "--memories",
          memories,
          "--queries",
          queries,
          "-o",
          `${outputs}/${o.out}`,
          "--weights",
          `${outputs}/${o.weights}`,
          "--trace",
          `${outputs}/${o.trace}`,
          "--device",
          "cpu",
          ...(json ? ["--json"] : []),
        );
        assert.equal(r.code, 1, `${c.name}: exit ${r.code}\n${r.err}`);
        assert.deepEqual(await listing(outputs), [], `${c.name}: files were written`);
        if (json) {
          const diags = JSON.parse(r.out);
          assert.ok(Array.isArray(diags) && diags.length >= 1);
          const text = diags.map((
            d: { file: string; line: number; col: number; message: string },
          ) => `${d.file}:${d.line}:${d.col}: error: ${d.message}`).join("\n");
          assert.match(text, c.message);
        } else {
          assert.match(r.err, c.message);
          assert.doesNotMatch(r.err, /retrieved/);
        }
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Usage errors: exit 2 with the usage text.

Deno.test("usage errors exit 2", async () => {
  const file = examplePath("softmax.hop");
  const io = ["--memories", "X.npy", "--queries", "Q.npy", "-o", "OUT.npy"];
  const cases: [string, string[], RegExp][] = [
    ["unknown command", ["frobnicate", file], /unknown command `frobnicate`/],
    ["unknown option", ["check", file, "--verbose"], /unknown option `--verbose`/],
    ["unknown option of retrieve", ["retrieve", file, ...io, "--out", "x"], /unknown option/],
    ["option of another command", ["check", file, "--emit", "ir"], /does not apply/],
    ["missing --memories", ["retrieve", file, "--queries", "Q.npy", "-o", "O.npy"], /--memories/],
    ["missing --queries", ["retrieve", file, "--memories", "X.npy", "-o", "O.npy"], /--queries/],
    ["missing -o", ["retrieve", file, "--memories", "X.npy", "--queries", "Q.npy"], /-o/],
    ["missing option value", ["retrieve", file, ...io, "--model"], /needs a value/],
    ["bad --set syntax", ["retrieve", file, ...io, "--set", "b"], /--set wants NAME=NUMBER/],
    ["bad --set number", ["retrieve", file, ...io, "--set", "b=eight"], /--set wants/],
    ["bad --set name", ["check", file, "--set", "1b=3"], /--set wants/],
    ["bad --device", ["retrieve", file, ...io, "--device", "tpu"], /--device wants gpu or cpu/],
    ["bad --emit", ["explain", file, "--emit", "bytecode"], /--emit wants/],
    ["no file", ["check"], /needs a \.hop file/],
    ["two files", ["check", file, file], /takes one \.hop file/],
  ];
  for (const [what, argv, message] of cases) {
    const r = await hopc(...argv);
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.err}`);
    assert.match(r.err, message, what);
    assert.match(r.err, /usage:/, what);
  }
  const help = await hopc("help");
  assert.equal(help.code, 0);
  assert.match(help.out, /usage:/);
});

Deno.test("explain --emit plan shows the continuous and features lowerings", async () => {
  const plan = async (file: string, model: string) => {
    const r = await hopc("explain", examplePath(file), "--emit", "plan", "--model", model);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out);
  };
  const pooled = await plan("continuous.hop", "continuous_box_exact");
  assert.equal(pooled.lowering.pass, "continuous-box-exact-to-pooled");
  assert.ok(["online", "threshold"].includes(pooled.family));
  const quad = await plan("continuous.hop", "continuous_gaussian");
  assert.equal(quad.lowering.pass, "continuous-quadrature");
  assert.equal(quad.family, "quadrature");
  assert.equal(quad.lowering.basis, "gaussian");
  const feat = await plan("features.hop", "positive_random_features");
  assert.equal(feat.family, "features");
  assert.equal(feat.lowering.pass, "features-kernel");
  assert.match(feat.lowering.note, /independent of M/);
  // The WGSL of each is a kernel with its own header.
  const wgsl = await hopc(
    "explain",
    examplePath("continuous.hop"),
    "--emit",
    "wgsl",
    "--model",
    "continuous_box_exact",
  );
  assert.match(wgsl.out, /pooled pass/);
});

Deno.test("features with --weights: the cpu with a note, or exit 1 under --device gpu", async () => {
  await withDir(async (dir) => {
    const X = data(30, 6, 1), Q = data(4, 6, 2);
    await writeNpy(`${dir}/x.npy`, X);
    await writeNpy(`${dir}/q.npy`, Q);
    const base = [
      "retrieve",
      examplePath("features.hop"),
      "--model",
      "relu_features",
      "--memories",
      `${dir}/x.npy`,
      "--queries",
      `${dir}/q.npy`,
    ];
    const ok = await hopc(...base, "-o", `${dir}/o.npy`, "--weights", `${dir}/w.npy`);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.err, /never forms one weight per memory.*running the float64 reference/);
    const w = parseNpy(await Deno.readFile(`${dir}/w.npy`), "w.npy");
    assert.deepEqual([w.rows, w.cols], [4, 30]);
    const bad = await hopc(
      ...base,
      "-o",
      `${dir}/o2.npy`,
      "--weights",
      `${dir}/w2.npy`,
      "--device",
      "gpu",
    );
    assert.equal(bad.code, 1);
    assert.match(bad.err, /features\.hop:\d+:\d+: error: model `relu_features`/);
    assert.match(bad.err, /hint: drop --device gpu/);
    for (const f of ["o2.npy", "w2.npy"]) {
      assert.equal(await Deno.stat(`${dir}/${f}`).then(() => true, () => false), false, f);
    }
  });
});
