// The GPU-machine script bench/gpu/run.sh, rehearsed here end to end: on the local adapter (Mesa
// llvmpipe), tiny shapes, with the rehearsal override. It checks that hopc's JSON has every tiny
// cell with finite figures and a passed float64 check, that the PyTorch/numpy side did the same on
// bit-identical data (skipped, with a note, where python3 has no numpy), that the table was
// written, and that without the override the script refuses a non-NVIDIA adapter before timing
// anything. Deno is this test's own binary (Deno.execPath()), passed to the script as DENO.
import assert from "node:assert/strict";
import { TINY_SHAPES } from "../bench/gpu/bench.ts";
import { MAP_NAMES } from "../bench/gpu/data.ts";
import { isNvidia } from "../bench/gpu/adapter.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const root = new URL("..", import.meta.url).pathname;
const adapter = await navigator.gpu?.requestAdapter().catch(() => null) ?? null;
const nvidia = adapter !== null && isNvidia(adapter.info);

async function hasNumpy(): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("python3", {
      args: ["-c", "import numpy"],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

async function runScript(args: string[], out: string, work: string) {
  const env: Record<string, string> = {
    DENO: Deno.execPath(),
    OUT: out,
    WORK: work,
    DENO_NO_UPDATE_CHECK: "1",
  };
  const child = new Deno.Command("bash", {
    args: ["bench/gpu/run.sh", ...args],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  });
  // The child inherits this process's environment; the override must not leak in from it.
  const saved = Deno.env.get("HOPC_GPU_REHEARSAL");
  Deno.env.delete("HOPC_GPU_REHEARSAL");
  try {
    const { code, stdout, stderr } = await child.output();
    const dec = new TextDecoder();
    return { code, text: dec.decode(stdout) + dec.decode(stderr) };
  } finally {
    if (saved !== undefined) Deno.env.set("HOPC_GPU_REHEARSAL", saved);
  }
}

const finite = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x > 0;

interface Cell {
  map: string;
  M: number;
  D: number;
  B: number;
  steps: number;
  status: string;
  timing?: { ms: number };
  gflops?: number;
  gbps?: number;
  check?: { relErr?: number; queries: number };
  states?: number[][];
}

function expectedKeys(): string[] {
  const keys: string[] = [];
  for (const s of TINY_SHAPES) {
    for (const steps of s.steps) {
      for (const map of MAP_NAMES) keys.push(`${map}|${s.M}|${s.D}|${s.B}|${steps}`);
    }
  }
  return keys;
}
const key = (c: Cell) => `${c.map}|${c.M}|${c.D}|${c.B}|${c.steps}`;

Deno.test({
  name: "bench/gpu/run.sh --rehearsal: every tiny cell timed and checked, JSON and table written",
  ignore: adapter === null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "hopc-gpu-test-out-" });
    const work = await Deno.makeTempDir({ prefix: "hopc-gpu-test-work-" });
    try {
      const { code, text } = await runScript(["--rehearsal"], out, work);
      assert.equal(code, 0, `run.sh --rehearsal exited ${code}:\n${text.slice(-4000)}`);
      assert.match(text, /adapter: vendor=/, "the adapter is printed first");

      const hopc = JSON.parse(await Deno.readTextFile(`${out}/hopc.json`));
      assert.equal(hopc.finished, true);
      assert.equal(hopc.tiny, true);
      const cells = hopc.cells as Cell[];
      assert.deepEqual(cells.map(key).sort(), expectedKeys().sort(), "every tiny cell, once");
      for (const c of cells) {
        const id = key(c);
        assert.equal(c.status, "ok", `${id}: ${JSON.stringify(c).slice(0, 400)}`);
        assert.ok(finite(c.timing?.ms) && finite(c.gflops) && finite(c.gbps), `${id} figures`);
        const relErr = c.check?.relErr;
        assert.ok(relErr !== undefined && relErr <= hopc.tolerance, `${id} err ${relErr}`);
        assert.ok((c.check?.queries ?? 0) >= 1, `${id} checked queries`);
        // The formulas the JSON states.
        assert.ok(
          Math.abs(c.gflops! - (4 * c.M * c.D * c.B * c.steps) / (c.timing!.ms * 1e6)) < 1e-9,
        );
        assert.ok(Math.abs(c.gbps! - (4 * c.M * c.D * c.steps) / (c.timing!.ms * 1e6)) < 1e-9);
      }

      const adapterJson = JSON.parse(await Deno.readTextFile(`${out}/adapter.json`));
      assert.equal(adapterJson.found, true);
      const table = await Deno.readTextFile(`${out}/table.md`);
      for (const m of MAP_NAMES) assert.ok(table.includes(`| ${m} |`), `table row for ${m}`);
      const log = await Deno.readTextFile(`${out}/log.txt`);
      assert.match(log, /run\.sh: .*done in/);

      if (!(await hasNumpy())) {
        console.warn("gpu_script_test: python3 has no numpy: the PyTorch/numpy part was skipped");
        assert.match(log, /numpy missing|no python3/);
        return;
      }
      const torch = JSON.parse(await Deno.readTextFile(`${out}/torch.json`));
      assert.equal(torch.finished, true);
      const tcells = torch.cells as (Cell & {
        methods: Record<string, Cell>;
        refStates: number[][];
      })[];
      assert.deepEqual(tcells.map(key).sort(), expectedKeys().sort());
      const byKey = new Map(cells.map((c) => [key(c), c]));
      for (const t of tcells) {
        const id = key(t);
        const e = t.methods.eager;
        assert.equal(e.status, "ok", `torch ${id}: ${JSON.stringify(e).slice(0, 400)}`);
        assert.ok(finite(e.timing?.ms) && finite(e.gflops) && finite(e.gbps), `torch ${id}`);
        assert.ok(e.check!.relErr! <= torch.tolerance, `torch ${id} err ${e.check!.relErr}`);
        // Same data on both sides: hopc's states against torch_bench.py's float64 reference.
        const h = byKey.get(id)!;
        let err = 0, scale = 0;
        for (let r = 0; r < Math.min(h.states!.length, t.refStates.length); r++) {
          for (let i = 0; i < t.refStates[r].length; i++) {
            err = Math.max(err, Math.abs(h.states![r][i] - t.refStates[r][i]));
            scale = Math.max(scale, Math.abs(t.refStates[r][i]));
          }
        }
        assert.ok(err / scale < 1e-4, `${id}: hopc vs torch_bench reference ${err / scale}`);
      }
      assert.ok(table.includes("x-check"), "the table compares hopc with PyTorch's side");
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "bench/gpu/run.sh without the rehearsal override refuses a non-NVIDIA adapter",
  ignore: adapter === null || nvidia,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "hopc-gpu-test-out-" });
    const work = await Deno.makeTempDir({ prefix: "hopc-gpu-test-work-" });
    try {
      const { code, text } = await runScript([], out, work);
      assert.equal(code, 3, `expected exit 3:\n${text.slice(-3000)}`);
      assert.match(text, /adapter: vendor=/);
      assert.match(text, /STOP: the WebGPU adapter is not the NVIDIA GPU/);
      assert.match(text, /HOPC_GPU_REHEARSAL=1/);
      const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      assert.ok(!files.includes("hopc.json"), `nothing timed: ${files}`);
      assert.ok(files.includes("log.txt"));
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
