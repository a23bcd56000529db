// `deno task bench:compile`: the first-compile time of every kernel hopc runs, per WebGPU backend,
// with the driver's on-disk shader cache off (MESA_SHADER_CACHE_DISABLE), so each figure is what a
// fresh machine pays the first time it runs a model. The bound: under 10 s per kernel on
// llvmpipe through Vulkan or GL.
//
//   deno run -A bench/compile_time.ts [--backends default|gl,vulkan] [--candidates]
//                                      [--files a.hop,b.hop] [--timeout SECONDS] [--out PATH]
//
// Every model of examples/*.hop is loaded with the rules' plan at (M, D, B) = (512, 32, 8) and
// called twice: compile ≈ load + first call - second call (Mesa JITs a pipeline at its creation
// or at its first dispatch; both fall inside that difference). With --candidates, every run
// choice the tuner may pick (src/runtime/tune.ts) is measured too, as that is also a kernel a user
// can end up running. Each (backend, file) runs in its own process (DENO_WEBGPU_BACKEND selects
// the backend; the cache variable must be set before the driver loads), killed after --timeout
// seconds (default 120): a measurement still running then is reported as "> timeout".
//
// Output: a markdown table on stdout and JSON in bench/results/compile-<date>.json (or --out).
import { checkText } from "../src/check.ts";
import { acquireDevice } from "../src/runtime/device.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { candidates, syntheticData } from "../src/runtime/tune.ts";
import { gpuUnsupported } from "../src/plan/plan.ts";
import { dateStamp } from "./lib/common.ts";

interface Measurement {
  backend: string;
  adapter: string;
  file: string;
  model: string;
  plan: string;
  /** Milliseconds: load (pipelines created), first and second call. */
  loadMs: number;
  firstMs: number;
  secondMs: number;
  compileMs: number;
  pipelines: number;
}

interface Failure {
  backend: string;
  file: string;
  model: string;
  plan: string;
  error: string;
}

const SHAPE = { M: 512, D: 32, B: 8 };

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

async function child(file: string, withCandidates: boolean, backend: string): Promise<void> {
  const ctx = await acquireDevice();
  // Count pipelines created, so a figure can be read per kernel.
  let pipelines = 0;
  const device = ctx.device as GPUDevice & Record<string, unknown>;
  const sync = device.createComputePipeline.bind(device);
  const async_ = device.createComputePipelineAsync.bind(device);
  device.createComputePipeline = (d: GPUComputePipelineDescriptor) => (pipelines++, sync(d));
  device.createComputePipelineAsync = (d: GPUComputePipelineDescriptor) => (
    pipelines++, async_(d)
  );
  const { models } = checkText(await Deno.readTextFile(file), file, {});
  for (const model of models) {
    if (gpuUnsupported(model)) continue;
    const { X, Q } = syntheticData(SHAPE.M, SHAPE.D, SHAPE.B, 3);
    const runs: { plan: string; choices: RunChoices }[] = [{ plan: "rules", choices: {} }];
    if (withCandidates) {
      for (const c of candidates(model)) runs.push({ plan: c.label, choices: c.choices });
    }
    for (const run of runs) {
      // Say what starts, so a run killed by the timeout names the kernel that was compiling.
      console.log(JSON.stringify({ start: { file, model: model.name, plan: run.plan } }));
      try {
        const before = pipelines;
        const t0 = performance.now();
        const r = await load(model, X, ctx, run.choices);
        const t1 = performance.now();
        await r.retrieve(Q);
        const t2 = performance.now();
        await r.retrieve(Q);
        const t3 = performance.now();
        r.destroy();
        const m: Measurement = {
          backend,
          adapter: ctx.info,
          file,
          model: model.name,
          plan: run.plan === "rules" && r.blockedPlan
            ? `rules (${r.blockedPlan.schedule} q${r.blockedPlan.queriesPerThread})`
            : run.plan,
          loadMs: t1 - t0,
          firstMs: t2 - t1,
          secondMs: t3 - t2,
          compileMs: (t1 - t0) + (t2 - t1) - (t3 - t2),
          pipelines: pipelines - before,
        };
        console.log(JSON.stringify({ done: m }));
      } catch (e) {
        const f: Failure = {
          backend,
          file,
          model: model.name,
          plan: run.plan,
          error: (e as Error).message.split("\n")[0],
        };
        console.log(JSON.stringify({ failed: f }));
      }
    }
  }
}

async function parent(): Promise<void> {
  const backends = (flag("--backends") ?? "default").split(",");
  const timeout = Number(flag("--timeout") ?? 120);
  const withCandidates = Deno.args.includes("--candidates");
  const files = flag("--files")?.split(",") ??
    [...Deno.readDirSync("examples")].filter((e) => e.name.endsWith(".hop"))
      .map((e) => `examples/${e.name}`).sort();
  const done: Measurement[] = [];
  const failed: Failure[] = [];
  const timedOut: { backend: string; file: string; model: string; plan: string }[] = [];
  for (const backend of backends) {
    for (const file of files) {
      const env: Record<string, string> = {
        MESA_SHADER_CACHE_DISABLE: "true",
        XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
      };
      if (backend !== "default") env.DENO_WEBGPU_BACKEND = backend;
      const args = ["run", "-A", import.meta.filename!, "--child", file, "--backend", backend];
      if (withCandidates) args.push("--candidates");
      const proc = new Deno.Command(Deno.execPath(), {
        args,
        env,
        stdout: "piped",
        stderr: "inherit",
      })
        .spawn();
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeout * 1000);
      let started: { file: string; model: string; plan: string } | null = null;
      let buffer = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (!line.startsWith("{")) continue;
          const msg = JSON.parse(line);
          if (msg.start) started = msg.start;
          if (msg.done) {
            started = null;
            done.push(msg.done);
            const m = msg.done as Measurement;
            console.error(
              `${backend} ${m.model} ${m.plan}: compile ${(m.compileMs / 1000).toFixed(2)} s`,
            );
          }
          if (msg.failed) (started = null, failed.push(msg.failed));
        }
      }
      const status = await proc.status;
      clearTimeout(timer);
      if (started) timedOut.push({ backend, ...started });
      else if (!status.success) {
        failed.push({ backend, file, model: "-", plan: "-", error: `exit ${status.code}` });
      }
    }
  }
  const rows = done.map((m) =>
    `| ${m.backend} | ${m.model} | ${m.plan} | ${m.pipelines} | ${
      (m.compileMs / 1000).toFixed(2)
    } | ${m.secondMs.toFixed(1)} |`
  );
  console.log(
    [
      `adapter: ${done[0]?.adapter ?? "?"}; shape (M, D, B) = (${SHAPE.M}, ${SHAPE.D}, ${SHAPE.B})`,
      "",
      "| backend | model | plan | pipelines | first compile s | warm call ms |",
      "|---|---|---|---|---|---|",
      ...rows,
      ...timedOut.map((t) => `| ${t.backend} | ${t.model} | ${t.plan} | - | > ${timeout} | - |`),
    ].join("\n"),
  );
  for (const f of failed) console.log(`FAILED ${f.backend} ${f.model} ${f.plan}: ${f.error}`);
  const worst = Math.max(0, ...done.map((m) => m.compileMs));
  console.log(`\nslowest first compile: ${(worst / 1000).toFixed(2)} s over ${done.length} runs`);
  const out = flag("--out") ?? `bench/results/compile-${dateStamp(new Date())}.json`;
  await Deno.writeTextFile(
    out,
    JSON.stringify({ shape: SHAPE, timeoutS: timeout, done, failed, timedOut }, null, 1) + "\n",
  );
  console.log(`wrote ${out}`);
  if (failed.length > 0 || timedOut.length > 0) Deno.exit(1);
}

if (Deno.args.includes("--child")) {
  await child(flag("--child")!, Deno.args.includes("--candidates"), flag("--backend")!);
  Deno.exit(0);
} else {
  await parent();
}
