// `hopc tune` (src/runtime/tune.ts): the candidates of each kind of model, the shape buckets and
// cache keys, the plan cache (round trip, atomic writes, a corrupt file ignored); on the GPU, a
// tiny model tuned end to end and the CLI run in a subprocess.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import { HopError } from "../src/diagnostics.ts";
import type { Model } from "../src/ir.ts";
import {
  candidates,
  checkTunable,
  entryOf,
  lookupTuned,
  nothingToTune,
  planCachePath,
  readTuned,
  shapeBucket,
  tune,
  TUNE_TOLERANCE,
  type TunedEntry,
  tuneKey,
  writeTuned,
} from "../src/runtime/tune.ts";
import { gpuTest } from "./helpers/gpu.ts";

const root = new URL("../", import.meta.url);
const examplePath = (name: string) => new URL(`examples/${name}`, root).pathname;

function exampleModel(file: string, name: string): Model {
  const path = examplePath(file);
  const { models, diagnostics } = checkText(Deno.readTextFileSync(path), path);
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  const m = models.find((m) => m.name === name);
  assert.ok(m, `no model ${name} in ${file}`);
  return m;
}

/** Runs `fn` with HOPC_PLAN_CACHE pointing into a fresh temporary folder (restored after). */
async function withCache(fn: (path: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hopc-tune-" });
  const before = Deno.env.get("HOPC_PLAN_CACHE");
  const path = `${dir}/sub/plans.json`; // the folder does not exist yet
  Deno.env.set("HOPC_PLAN_CACHE", path);
  try {
    await fn(path, dir);
  } finally {
    if (before === undefined) Deno.env.delete("HOPC_PLAN_CACHE");
    else Deno.env.set("HOPC_PLAN_CACHE", before);
    await Deno.remove(dir, { recursive: true });
  }
}

const labels = (m: Model) => candidates(m).map((c) => c.label);

// ---------------------------------------------------------------------------------------------
// candidates

Deno.test("tune: an online model's candidates: three-pass q4/q8 x r4/r8, wg64, fused", () => {
  const m = exampleModel("softmax.hop", "classic_softmax");
  assert.deepEqual(labels(m), [
    "threePass q4 r4 wg16",
    "threePass q4 r8 wg16",
    "threePass q8 r4 wg16",
    "threePass q8 r8 wg16",
    "threePass q8 r8 wg64",
    "threePass q8 r8 wg64 tiled",
    "fused q4 r8 wg16",
  ]);
  const fused = candidates(m).find((c) => c.label.startsWith("fused"))!;
  assert.deepEqual(fused.choices, {
    kernel: "blocked",
    blocked: { schedule: "fused", queriesPerThread: 4, rowBlock: 8, workgroupSize: 16 },
  });
  // The one-workgroup-per-query kernel is no candidate (slow everywhere measured, minutes to
  // compile on Mesa GL).
  assert.ok(candidates(m).every((c) => c.choices.kernel === "blocked"));
  assert.equal(nothingToTune(m), null);
  // Past D = 64 the fused schedule's first compile takes too long: no candidate there.
  assert.ok(candidates(m, 64).some((c) => c.label.startsWith("fused")));
  assert.ok(!candidates(m, 65).some((c) => c.label.startsWith("fused")));
  // softmax1 is an online map too.
  const [s1] = checkText("model s1 { entropy softmax1 }", "s1.hop").models;
  assert.ok(labels(s1).includes("fused q4 r8 wg16"));
});

Deno.test("tune: threshold models (entmax, top-K) have no fused candidate", () => {
  for (
    const m of [
      exampleModel("sparse_l2.hop", "sparse_l2"),
      exampleModel("masks.hop", "topk_softmax"),
    ]
  ) {
    assert.deepEqual(labels(m), [
      "threePass q4 r4 wg16",
      "threePass q4 r8 wg16",
      "threePass q8 r4 wg16",
      "threePass q8 r8 wg16",
      "threePass q8 r8 wg64",
      "threePass q8 r8 wg64 tiled",
    ], m.name);
  }
  // Pooled continuous memories (box, exact) run the blocked kernels too.
  assert.equal(labels(exampleModel("sparse_l2.hop", "continuous_video")).length, 7);
});

Deno.test("tune: a random mask's three-pass candidates take row blocks 1 and 2", () => {
  const m = exampleModel("masks.hop", "random_half");
  assert.deepEqual(labels(m), [
    "threePass q4 r1 wg16",
    "threePass q4 r2 wg16",
    "threePass q8 r1 wg16",
    "threePass q8 r2 wg16",
    "threePass q8 r2 wg64",
    "threePass q8 r2 wg64 tiled",
    "fused q4 r8 wg16",
  ]);
});

const UNSUPPORTED = `model cont {
  memory continuous(basis = gaussian, functions = 8)
  similarity manhattan
}`;

Deno.test("tune: features and quadrature models tune their three-pass plans; a model without a GPU lowering says why", () => {
  for (
    const m of [
      exampleModel("features.hop", "elu_features"),
      exampleModel("continuous.hop", "continuous_gaussian"),
    ]
  ) {
    assert.deepEqual(labels(m), [
      "threePass q4 r4 wg16",
      "threePass q4 r8 wg16",
      "threePass q8 r4 wg16",
      "threePass q8 r8 wg16",
      "threePass q8 r8 wg64",
      "threePass q8 r8 wg64 tiled",
    ], m.name);
  }
  const [m] = checkText(UNSUPPORTED, "unsupported.hop").models;
  assert.deepEqual(candidates(m), []);
  assert.match(nothingToTune(m)!, /^nothing to tune: continuous memory with quadrature lowers/);
  assert.throws(
    () => checkTunable(m),
    (e) => e instanceof HopError && /nothing to tune/.test(e.diagnostics[0].message),
  );
});

Deno.test("tune: every candidate label of a model is unique", () => {
  for (
    const [file, name] of [
      ["softmax.hop", "classic_softmax"],
      ["masks.hop", "random_half"],
      ["entmax.hop", "entmax15"],
    ]
  ) {
    const ls = labels(exampleModel(file, name));
    assert.equal(new Set(ls).size, ls.length);
  }
});

// ---------------------------------------------------------------------------------------------
// shape buckets and keys

Deno.test("tune: shapes bucket by powers of two, rounding up", () => {
  assert.deepEqual(shapeBucket(256, 16, 8), { M: 256, D: 16, B: 8 });
  assert.deepEqual(shapeBucket(257, 17, 9), { M: 512, D: 32, B: 16 });
  assert.deepEqual(shapeBucket(1, 1, 1), { M: 1, D: 1, B: 1 });
  assert.deepEqual(shapeBucket(1000, 100, 3), { M: 1024, D: 128, B: 4 });
});

Deno.test("tune: the cache key names the adapter, family, entropy, mask and shape buckets", () => {
  const sparse = exampleModel("sparse_l2.hop", "sparse_l2");
  assert.equal(
    tuneKey("gpu A", sparse, 300, 16, 5),
    "gpu A|threshold|threshold|none|M512|D16|B8",
  );
  // Nearby shapes share a key; another bucket, adapter or model kind does not.
  assert.equal(tuneKey("gpu A", sparse, 300, 16, 5), tuneKey("gpu A", sparse, 512, 9, 8));
  assert.notEqual(tuneKey("gpu A", sparse, 300, 16, 5), tuneKey("gpu A", sparse, 513, 16, 5));
  assert.notEqual(tuneKey("gpu A", sparse, 300, 16, 5), tuneKey("gpu B", sparse, 300, 16, 5));
  // Top-K softmax: the threshold family with an exp map.
  const topk = exampleModel("masks.hop", "topk_softmax");
  assert.equal(tuneKey("gpu A", topk, 64, 8, 2), "gpu A|threshold|exp|topk|M64|D8|B2");
  const random = exampleModel("masks.hop", "random_half");
  assert.equal(tuneKey("gpu A", random, 64, 8, 2), "gpu A|online|exp|random|M64|D8|B2");
});

// ---------------------------------------------------------------------------------------------
// the plan cache

const entry = (label: string): TunedEntry => ({
  label,
  choices: {
    kernel: "blocked",
    blocked: { schedule: "threePass", queriesPerThread: 8, rowBlock: 4, workgroupSize: 64 },
  },
  ms: 1.5,
  shape: { M: 256, D: 16, B: 8 },
  at: "2025-01-01T00:00:00.000Z",
});

Deno.test("tune: the plan cache round-trips, keeps other entries and writes atomically", async () => {
  await withCache(async (path) => {
    assert.equal(planCachePath(), path);
    assert.equal(await readTuned("k1"), null); // no file yet
    assert.equal(await writeTuned("k1", entry("a")), path);
    assert.equal(await writeTuned("k2", entry("b")), path);
    assert.deepEqual(await readTuned("k1"), entry("a"));
    assert.deepEqual(await readTuned("k2"), entry("b"));
    await writeTuned("k1", entry("c")); // replaced
    assert.equal((await readTuned("k1"))!.label, "c");
    // Only the cache file is left in its folder (no temporary files).
    const names = [...Deno.readDirSync(path.slice(0, path.lastIndexOf("/")))].map((e) => e.name);
    assert.deepEqual(names, ["plans.json"]);
    const file = JSON.parse(await Deno.readTextFile(path));
    assert.equal(file.version, 1);
    assert.deepEqual(Object.keys(file.entries).sort(), ["k1", "k2"]);
  });
});

Deno.test("tune: lookupTuned returns the cached choices marked tuned, for the same bucket only", async () => {
  await withCache(async () => {
    const m = exampleModel("sparse_l2.hop", "sparse_l2");
    assert.equal(await lookupTuned("gpu A", m, 256, 16, 8), null);
    await writeTuned(tuneKey("gpu A", m, 256, 16, 8), entry("threePass q8 r4 wg16"));
    assert.deepEqual(await lookupTuned("gpu A", m, 200, 13, 7), {
      kernel: "blocked",
      blocked: {
        schedule: "threePass",
        queriesPerThread: 8,
        rowBlock: 4,
        workgroupSize: 64,
        source: "tuned",
      },
    });
    assert.equal(await lookupTuned("gpu B", m, 256, 16, 8), null);
    assert.equal(await lookupTuned("gpu A", m, 4096, 16, 8), null);
    // A model without a GPU lowering never has a tuned plan.
    const [unsupported] = checkText(UNSUPPORTED, "unsupported.hop").models;
    assert.equal(await lookupTuned("gpu A", unsupported, 1, 1, 1), null);
  });
});

Deno.test("tune: a corrupt cache file is ignored with a warning, then replaced", async () => {
  await withCache(async (path) => {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const warnings: string[] = [];
    const error = console.error;
    console.error = (...a: unknown[]) => warnings.push(a.join(" "));
    try {
      for (const junk of ["{not json", "[1, 2]", '{"version": 7, "entries": {}}']) {
        await Deno.writeTextFile(path, junk);
        assert.equal(await readTuned("k1"), null);
      }
      assert.equal(warnings.length, 3);
      assert.match(warnings[0], /warning: ignoring the corrupt plan cache/);
      await writeTuned("k1", entry("a"));
    } finally {
      console.error = error;
    }
    assert.deepEqual(await readTuned("k1"), entry("a"));
  });
});

// ---------------------------------------------------------------------------------------------
// on the GPU

gpuTest("tune: a tiny model tuned on the adapter, its winner cached and looked up", async (ctx) => {
  const m = exampleModel("sparse_l2.hop", "sparse_l2");
  const shape = { M: 256, D: 16, B: 8 };
  const result = await tune(m, shape, ctx, { minTime: 0.05 });
  const all = labels(m);
  assert.deepEqual(result.results.map((r) => r.label), all);
  assert.ok(all.includes(result.winner.label));
  assert.equal(result.key, tuneKey(ctx.info, m, 256, 16, 8));
  const kept = result.results.filter((r) => !r.rejected);
  assert.ok(kept.length > 0);
  for (const r of kept) {
    assert.ok(r.error !== null && r.error < TUNE_TOLERANCE, `${r.label}: error ${r.error}`);
    assert.ok(r.ms !== null && r.ms > 0 && r.calls >= 3, `${r.label}: ${r.ms} ms`);
    assert.ok(r.ms >= result.winner.ms);
  }
  for (const r of result.results.filter((r) => r.rejected)) {
    assert.equal(r.ms, null);
    assert.notEqual(r.label, result.winner.label);
  }
  await withCache(async () => {
    await writeTuned(result.key, entryOf(result));
    const found = await lookupTuned(ctx.info, m, 256, 16, 8);
    const winner = candidates(m).find((c) => c.label === result.winner.label)!;
    assert.deepEqual(found, {
      ...winner.choices,
      blocked: { ...winner.choices.blocked, source: "tuned" },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// the command line (a subprocess, as a user runs it)

async function hopcTune(env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("src/cli/main.ts", root).pathname, "tune", ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

gpuTest(
  "tune: `hopc tune` exits 0, prints each candidate and the winner, writes the cache",
  async () => {
    await withCache(async (path) => {
      const r = await hopcTune(
        { HOPC_PLAN_CACHE: path },
        examplePath("sparse_l2.hop"),
        "--model",
        "sparse_l2",
        "--shape",
        "64,8,4",
        "--min-time",
        "0.02",
      );
      assert.equal(r.code, 0, r.err);
      for (const label of labels(exampleModel("sparse_l2.hop", "sparse_l2"))) {
        assert.ok(r.out.includes(label), `${label} missing:\n${r.out}`);
      }
      assert.match(r.out, /GFLOP\/s/);
      assert.match(r.out, /^winner: /m);
      const file = JSON.parse(await Deno.readTextFile(path));
      const keys = Object.keys(file.entries);
      assert.equal(keys.length, 1);
      assert.match(keys[0], /\|threshold\|threshold\|none\|M64\|D8\|B4$/);
    });
  },
);

Deno.test("tune: `hopc tune` usage errors exit 2, a model without a GPU lowering exits 1", async () => {
  await withCache(async (path) => {
    const sparse = examplePath("sparse_l2.hop");
    const bad = await hopcTune({ HOPC_PLAN_CACHE: path }, sparse, "--shape", "0,x");
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, /--shape wants M,D,B/);
    const two = await hopcTune({ HOPC_PLAN_CACHE: path }, sparse, "--shape", "64,8");
    assert.equal(two.code, 2);
    const noShape = await hopcTune({ HOPC_PLAN_CACHE: path }, sparse, "--model", "sparse_l2");
    assert.equal(noShape.code, 2);
    assert.match(noShape.err, /needs --shape M,D,B/);
    const time = await hopcTune(
      { HOPC_PLAN_CACHE: path },
      sparse,
      "--shape",
      "8,8,8",
      "--min-time",
      "-1",
    );
    assert.equal(time.code, 2);
    const file = await Deno.makeTempFile({ suffix: ".hop" });
    await Deno.writeTextFile(file, UNSUPPORTED);
    const unsupported = await hopcTune({ HOPC_PLAN_CACHE: path }, file, "--shape", "64,8,4");
    await Deno.remove(file);
    assert.equal(unsupported.code, 1);
    assert.match(unsupported.err, /nothing to tune/);
    await assert.rejects(Deno.stat(path)); // nothing written
  });
});
