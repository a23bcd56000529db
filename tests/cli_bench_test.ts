// `hopc bench` (in process: its JSON parsed, its numbers checked against each other and its
// exit codes), the progress reporter of long runs, and the single-file binary of `deno task
// build` where a denort base binary is at hand (it is downloaded from dl.deno.land).
import assert from "node:assert/strict";
import { main } from "../src/cli/main.ts";
import { createProgress } from "../src/cli/progress.ts";
import { gpuTest } from "./helpers/gpu.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const root = new URL("../", import.meta.url);
const example = (name: string) => new URL(`examples/${name}`, root).pathname;

async function hopc(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

gpuTest(
  "hopc bench --json: times the model, names the plan, agrees with the reference",
  async () => {
    const r = await hopc(
      "bench",
      example("sparse_l2.hop"),
      "--model",
      "sparse_l2",
      "--shape",
      "64,12,5",
      "--min-time",
      "0.05",
      "--json",
    );
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out);
    assert.equal(result.model, "sparse_l2");
    assert.deepEqual(result.shape, { M: 64, D: 12, B: 5 });
    assert.equal(result.steps, 5); // the model's `steps 5`
    assert.equal(result.plan.kernel, "blocked");
    assert.match(result.plan.label, /^(threePass|fused) q[48] r\d+ wg\d+$/);
    assert.ok(result.calls >= 3);
    assert.ok(result.min <= result.ms && result.ms <= result.max);
    assert.ok(Math.abs(result.gflops - (4 * 64 * 12 * 5 * 5) / result.ms / 1e6) < 1e-9);
    assert.ok(result.error < 1e-4 && result.ok === true);
    assert.equal(result.checkedQueries, 2);
  },
);

gpuTest(
  "hopc bench: --steps replaces the model's steps; the text names ms, GFLOP/s, plan",
  async () => {
    const r = await hopc(
      "bench",
      example("softmax.hop"),
      "--model=classic_softmax",
      "--shape=40,8,3",
      "--steps=2",
      "--seed=7",
      "--min-time=0.05",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^model `classic_softmax` at M = 40, D = 8, B = 3, 2 step\(s\), seed 7, on /,
    );
    assert.match(r.out, /\n {2}plan: {8}blocked \S+ q\d/);
    assert.match(r.out, /\n {2}time: {8}[\d.]+ ms per call \(median of \d+;/);
    assert.match(r.out, /\n {2}rate: {8}[\d.e+-]+ GFLOP\/s/);
    assert.match(r.out, /\n {2}reference: {3}error \S+ on the first 2 queries .*: ok$/);
  },
);

Deno.test("hopc bench: a wrong command line exits 2, a wrong input 1", async () => {
  const file = example("sparse_l2.hop");
  for (
    const argv of [
      ["bench", file, "--model", "sparse_l2"], // no --shape
      ["bench", file, "--shape", "64,12"], // M,D only
      ["bench", file, "--shape", "64,12,5", "--steps", "0"],
      ["bench", file, "--shape", "64,12,5", "--seed", "1.5"],
      ["bench", file, "--shape", "64,12,5", "--min-time", "-1"],
      ["bench", file, "--shape", "64,12,5", "--device", "cpu"], // not a bench option
      ["bench", "--shape", "64,12,5"], // no file
    ]
  ) {
    const r = await hopc(...argv);
    assert.equal(r.code, 2, `${argv.join(" ")}: ${r.err}`);
    assert.match(r.err, /^hopc: .*\n\nhopc: a compiler/);
  }
  const missing = await hopc("bench", "no/such.hop", "--shape", "8,4,2");
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^no\/such\.hop:1:1: error: cannot read the file/);
  const dir = await Deno.makeTempDir({ prefix: "hopc-bench-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.hop`, "model m {\n  entropy sparsemx\n}\n");
    const bad = await hopc("bench", `${dir}/bad.hop`, "--shape", "8,4,2");
    assert.equal(bad.code, 1);
    assert.match(bad.err, /bad\.hop:2:11: error: unknown entropy `sparsemx`/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const unknown = await hopc("bench", file, "--model", "nope", "--shape", "8,4,2");
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no model named `nope`/);
  // top-k's K = 4 needs at least 4 memories: an input error, found before any GPU work.
  const dir2 = await Deno.makeTempDir({ prefix: "hopc-bench-" });
  try {
    await Deno.writeTextFile(`${dir2}/k.hop`, "model k { mask topk(k = 4) }\n");
    const small = await hopc("bench", `${dir2}/k.hop`, "--shape", "3,4,2");
    assert.equal(small.code, 1);
    assert.match(small.err, /larger than the number of memories M = 3/);
  } finally {
    await Deno.remove(dir2, { recursive: true });
  }
});

Deno.test("progress off a terminal: lines as they come, a status only after silence", () => {
  const lines: string[] = [];
  let t = 0;
  const p = createProgress({ line: (s) => lines.push(s) }, undefined, {
    now: () => t,
    plainEveryMs: 1000,
  });
  p.update("a"); // the first status is printed
  t = 500;
  p.update("b"); // too soon
  t = 1200;
  p.update("b"); // 1.2 s after "a"
  p.line("kept");
  t = 2000;
  p.update("c"); // 0.8 s after a line: silent enough? no
  t = 2300;
  p.update("c");
  p.update("c"); // the same text again is not repeated
  p.done();
  p.update("d"); // after done, at once
  assert.deepEqual(lines, ["a", "b", "kept", "c", "d"]);
});

Deno.test("progress on a terminal: one line redrawn in place, cut to the width", () => {
  let screen = "";
  let t = 0;
  const p = createProgress({ line: () => assert.fail("no plain lines on a terminal") }, {
    write: (raw) => void (screen += raw),
    columns: 20,
  }, { now: () => t, redrawEveryMs: 100 });
  p.update("step 1");
  t = 50;
  p.update("step 2"); // within 100 ms: not drawn yet
  p.line("a line");
  t = 200;
  p.update("a status far longer than twenty columns");
  p.done();
  const E = "\r\x1b[K";
  assert.equal(
    screen,
    `${E}step 1${E}a line\nstep 2${E}a status far lon...${E}`,
  );
});

// `deno compile` embeds the program in a copy of denort, which it downloads once into DENO_DIR.
const denortCached = (() => {
  try {
    const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).outputSync();
    const dir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
    return [...Deno.readDirSync(`${dir}/dl/release/v${Deno.version.deno}`)].some((e) =>
      e.name.startsWith("denort-")
    );
  } catch {
    return false;
  }
})();

Deno.test({
  name: "deno task build: the hopc binary checks a file and retrieves",
  // Without a cached denort or DENORT_BIN the build needs dl.deno.land; reported as ignored.
  ignore: !denortCached && !Deno.env.get("DENORT_BIN"),
  async fn() {
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "build"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const bin = new URL("dist/hopc", root).pathname;
    const run = (...args: string[]) =>
      new Deno.Command(bin, { args, cwd: root, stdout: "piped", stderr: "piped" }).output();
    const check = await run("check", "examples/softmax.hop");
    assert.equal(check.code, 0);
    assert.match(new TextDecoder().decode(check.stdout), /2 model\(s\) ok/);
    const dir = await Deno.makeTempDir({ prefix: "hopc-bin-" });
    try {
      const out = await run(
        "retrieve",
        "examples/sparse_l2.hop",
        "--model",
        "sparse_l2",
        "--memories",
        "examples/data/memories.npy",
        "--queries",
        "examples/data/queries.npy",
        "-o",
        `${dir}/out.npy`,
      );
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.ok((await Deno.stat(`${dir}/out.npy`)).size > 128);
      const compiled = await run("compile", "examples/sparse_l2.hop", "-o", dir);
      assert.equal(compiled.code, 0, new TextDecoder().decode(compiled.stderr));
      assert.ok((await Deno.stat(`${dir}/hopc_runtime.ts`)).isFile);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
