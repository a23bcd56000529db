// `deno task bench`: hopc's fused retrieval kernel against an unfused WebGPU pipeline (GEMM,
// normalizer, GEMM per step; src/bench/unfused.ts), onnxruntime-web's WebGPU execution provider
// (softmax only; src/bench/ort.ts) and the float64 CPU reference (smallest shape only), all on the
// same adapter in the same process.
//
//   deno run -A bench/main.ts [--quick] [--full] [--only softmax,sparsemax] [--out PATH]
//                             [--min-time SECONDS] [--gemm auto|shared|register] [--beta B]
//                             [--no-ort] [--no-reference]
//
// Each cell (normalizer, M, D, B, steps) times every path the same way: one warm-up call, then
// calls until at least 3 were timed and about --min-time seconds (default 2) went by; the median
// is reported. GFLOP/s counts the two GEMMs only: 4·M·D·B·steps. Results go to a table on stdout
// and to bench/results/<adapter-slug>-<date>.json (or --out).
import { acquireDevice } from "../src/runtime/device.ts";
import { load } from "../src/runtime/retriever.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import type { Mat } from "../src/parts/types.ts";
import {
  BENCH_NORMALIZERS,
  benchModel,
  type BenchNormalizer,
  type GemmVariant,
  loadUnfused,
} from "../src/bench/unfused.ts";
import { createOrtRetrieval, loadOrt, OrtUnavailable } from "../src/bench/ort.ts";
import {
  dateStamp,
  gaussianRng,
  isCpuAdapter,
  relativeError,
  slug,
  timeCalls as timeCallsOf,
  type Timing as CallTiming,
} from "./lib/common.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  quick: boolean;
  full: boolean;
  only: BenchNormalizer[];
  out?: string;
  minTime: number;
  gemm: GemmVariant | "auto";
  beta: number;
  ort: boolean;
  reference: boolean;
  /** Seconds the run may take; cells predicted to overrun it are skipped (CPU adapters). */
  budget: number;
  /** Shapes to run (default: all three; --quick: the smallest). */
  shapes?: Shape[];
  steps: number[];
}

const USAGE = `usage: deno run -A bench/main.ts [options]
  --quick              only the smallest shape (M, D, B) = (1024, 64, 64), for smoke tests
  --full               also run (16384, 256, 256) x 8 steps on a CPU adapter (skipped by default)
  --only LIST          normalizers, comma-separated: ${Object.keys(BENCH_NORMALIZERS).join(",")}
  --out PATH           where to write the JSON (default bench/results/<adapter>-<date>.json)
  --min-time S         seconds of timed calls per path and cell, after >= 3 calls (default 2)
  --gemm V             unfused GEMM kernel: auto (time both per shape), shared, register
  --beta B             inverse temperature of every model (default 8)
  --shapes LIST        shapes to run instead, as MxDxB, comma-separated (e.g. 16384x256x256)
  --steps LIST         step counts to run (default 1,8)
  --budget S           skip cells predicted to end the run after S seconds (default 540 on a
                       CPU adapter, none on a GPU or with --full)
  --no-ort             skip onnxruntime-web
  --no-reference       skip the float64 CPU reference`;

function parseArgs(args: string[]): Options {
  const o: Options = {
    quick: false,
    full: false,
    only: Object.keys(BENCH_NORMALIZERS) as BenchNormalizer[],
    minTime: 2,
    gemm: "auto",
    beta: 8,
    ort: true,
    reference: true,
    budget: NaN, // decided in main: 540 s on a CPU adapter, unlimited otherwise or with --full
    steps: [1, 8],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
        o.quick = true;
        break;
      case "--full":
        o.full = true;
        break;
      case "--only": {
        const names = value().split(",").map((s) => s.trim()).filter((s) => s);
        for (const n of names) {
          if (!(n in BENCH_NORMALIZERS)) fail(`unknown normalizer ${n}`);
        }
        o.only = names as BenchNormalizer[];
        break;
      }
      case "--out":
        o.out = value();
        break;
      case "--min-time":
        o.minTime = Number(value());
        if (!(o.minTime >= 0)) fail("--min-time wants a number of seconds");
        break;
      case "--gemm": {
        const v = value();
        if (v !== "auto" && v !== "shared" && v !== "register") fail(`unknown --gemm ${v}`);
        o.gemm = v as Options["gemm"];
        break;
      }
      case "--beta":
        o.beta = Number(value());
        if (!(o.beta > 0)) fail("--beta wants a positive number");
        break;
      case "--shapes":
        o.shapes = value().split(",").map((t) => {
          const m = /^(\d+)x(\d+)x(\d+)$/.exec(t.trim());
          if (!m) fail(`--shapes wants MxDxB items, e.g. 16384x256x256; got ${t}`);
          return { M: Number(m[1]), D: Number(m[2]), B: Number(m[3]) };
        });
        break;
      case "--steps":
        o.steps = value().split(",").map(Number);
        if (!o.steps.every((n) => Number.isInteger(n) && n >= 1)) fail("--steps wants counts");
        break;
      case "--budget":
        o.budget = Number(value());
        if (!(o.budget > 0)) fail("--budget wants a number of seconds");
        break;
      case "--no-ort":
        o.ort = false;
        break;
      case "--no-reference":
        o.reference = false;
        break;
      case "-h":
      case "--help":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        fail(`unknown argument ${a}`);
    }
  }
  return o;
}

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  Deno.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Data: deterministic, a retrieval-like regime. Memories have entries N(0, 1/D) (norm about 1);
// query b is memory (7b mod M) plus noise of norm about 0.3, so a step moves it toward a memory.

function makeData(M: number, D: number, B: number): { X: Mat; Q: Mat } {
  const g = gaussianRng(M * 31 + D * 7 + B);
  const sd = 1 / Math.sqrt(D);
  const X = { rows: M, cols: D, data: Float64Array.from({ length: M * D }, () => g() * sd) };
  const Q = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    const j = (7 * b) % M;
    for (let d = 0; d < D; d++) Q.data[b * D + d] = X.data[j * D + d] + 0.3 * sd * g();
  }
  return { X, Q };
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Timing extends CallTiming {
  gflops: number;
}

interface PathResult {
  timing?: Timing;
  /** Max |a - b| / max |b| of the final states against the reference or the unfused path. */
  agreement?: { against: string; relErr: number };
  error?: string;
  note?: string;
}

/** The shared timing of bench/lib/common.ts, with GFLOP/s at `flop` per call. */
async function timeCalls(
  fn: () => Promise<unknown>,
  flop: number,
  minTime: number,
): Promise<Timing> {
  const { timing } = await timeCallsOf(fn, minTime);
  return { ...timing, gflops: flop / (timing.ms * 1e6) };
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

// ---------------------------------------------------------------------------------------------
// The run

interface Shape {
  M: number;
  D: number;
  B: number;
}

const SHAPES: Shape[] = [
  { M: 1024, D: 64, B: 64 },
  { M: 4096, D: 256, B: 64 },
  { M: 16384, D: 256, B: 256 },
];
/** Relative state difference above which a path is flagged as disagreeing. */
const AGREEMENT_TOL = 1e-3;

interface Cell extends Shape {
  normalizer: BenchNormalizer;
  steps: number;
  flop: number;
  fused: PathResult;
  unfused: PathResult & { gemm?: GemmVariant };
  ort?: PathResult;
  reference?: PathResult;
  /** Mean number of non-zero weights per query in the last step (hopc fused, weights read back). */
  support?: number;
  /** unfused ms / fused ms: above 1, the fused kernel is faster. */
  speedupVsUnfused?: number;
  /** ORT ms / fused ms: above 1, the fused kernel is faster. */
  speedupVsOrt?: number;
}

const log = (s: string) => console.error(s);

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  const started = new Date();
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`;
  const loadStart = Deno.loadavg();

  const ctx = await acquireDevice();
  const cpuAdapter = isCpuAdapter(ctx);
  log(
    `bench: adapter ${ctx.info}${cpuAdapter ? " (a CPU adapter)" : ""}, Deno ${Deno.version.deno}`,
  );
  if (loadStart[0] > 0.5 * navigator.hardwareConcurrency) {
    log(
      `bench: note: load average ${
        loadStart[0].toFixed(2)
      } on ${navigator.hardwareConcurrency} cores; other processes will slow the timings`,
    );
  }

  const shapes = opts.shapes ?? (opts.quick ? SHAPES.slice(0, 1) : SHAPES);
  if (Number.isNaN(opts.budget)) opts.budget = cpuAdapter && !opts.full ? 540 : Infinity;
  const notes: string[] = [];
  const skipped: {
    shape: Shape;
    steps: number;
    normalizer?: string;
    reason: string;
    predictedSeconds?: number;
  }[] = [];

  // onnxruntime-web: load once; its failure is reported, not fatal.
  let ortStatus: { available: boolean; version?: string; sharedDevice?: boolean; error?: string } =
    { available: false, error: "not run (--no-ort or softmax not selected)" };
  if (opts.ort && opts.only.includes("softmax")) {
    try {
      const ort = await loadOrt();
      ortStatus = { available: true, version: ort.env.versions.web };
    } catch (e) {
      ortStatus = { available: false, error: errorText(e) };
      log(`bench: onnxruntime-web unavailable: ${ortStatus.error}`);
    }
  }

  const cells: Cell[] = [];
  const gemmChoice = new Map<
    string,
    { chosen: GemmVariant; ms?: Record<GemmVariant, number>; reusedFrom?: string }
  >();
  let lastGemm: GemmVariant | undefined;
  // Measured GFLOP/s of each path and normalizer (the latest cell), to predict the next cells.
  const rates = new Map<string, number>();
  const predictMs = (path: string, normalizer: string, flop: number): number | undefined => {
    let rate = rates.get(`${path}:${normalizer}`);
    if (rate === undefined) {
      const others = [...rates].filter(([k]) => k.startsWith(`${path}:`)).map(([, v]) => v);
      if (others.length > 0) rate = Math.min(...others);
    }
    return rate === undefined ? undefined : flop / (rate * 1e6);
  };

  for (const shape of shapes) {
    const { M, D, B } = shape;
    const { X, Q } = makeData(M, D, B);
    const X32 = Float32Array.from(X.data);
    const Q32 = Float32Array.from(Q.data);
    const shapeKey = `${M}x${D}x${B}`;

    // The unfused GEMM kernel for this shape: the faster of the two on one 1-step softmax call
    // (after a warm-up), tuned when the shape's first cell runs. Where that call would take
    // seconds, the previous shape's choice is kept.
    let gemm: GemmVariant | undefined = opts.gemm === "auto" ? undefined : opts.gemm;
    const tuneGemm = async (): Promise<GemmVariant> => {
      const flop1 = 4 * M * D * B;
      const guess = predictMs("unfused", "softmax", flop1);
      if (lastGemm && guess !== undefined && guess > 3000) {
        gemmChoice.set(shapeKey, { chosen: lastGemm, reusedFrom: "previous shape" });
        return lastGemm;
      }
      const ms = {} as Record<GemmVariant, number>;
      for (const v of ["shared", "register"] as const) {
        const u = await loadUnfused(benchModel("softmax", opts.beta, 1), X, ctx, { gemm: v });
        try {
          await u.retrieve(Q); // warm-up (pipeline compilation, buffers)
          const t = performance.now();
          await u.retrieve(Q);
          ms[v] = performance.now() - t;
        } finally {
          u.destroy();
        }
      }
      const chosen = ms.shared <= ms.register ? "shared" : "register";
      gemmChoice.set(shapeKey, { chosen, ms });
      log(
        `bench: [${elapsed()}] ${shapeKey}: unfused GEMM ${chosen} (1-step softmax: shared ${
          ms.shared.toFixed(1)
        } ms, register ${ms.register.toFixed(1)} ms)`,
      );
      return chosen;
    };

    for (const steps of opts.steps) {
      if (cpuAdapter && !opts.full && M === 16384 && steps === 8) {
        const reason = "(16384, 256, 256) x 8 steps is skipped on a CPU adapter (minutes per " +
          "call); pass --full to run it";
        skipped.push({ shape, steps, reason });
        notes.push(reason);
        log(`bench: note: ${reason}`);
        continue;
      }
      for (const normalizer of opts.only) {
        const model = benchModel(normalizer, opts.beta, steps);
        const flop = 4 * M * D * B * steps;
        // Within the time budget? Predicted from the rates measured on the smaller cells.
        const paths = [
          "fused",
          "unfused",
          ...(normalizer === "softmax" && ortStatus.available ? ["ort"] : []),
        ];
        const callMs = paths.map((p) => predictMs(p, normalizer, flop));
        if (Number.isFinite(opts.budget) && callMs.every((c) => c !== undefined)) {
          // warm-up + >= 3 timed calls (or min-time) + fused's one weights call, per path
          const cost = callMs.reduce(
            (sum, c) => sum! + 2 * c! + Math.max(3 * c!, opts.minTime * 1000 + c!),
            0,
          )! / 1000;
          const spent = (performance.now() - t0) / 1000;
          if (spent + cost > opts.budget) {
            const reason = `${normalizer} (${M}, ${D}, ${B}) x ${steps} steps skipped: about ${
              cost.toFixed(0)
            } s predicted, ${
              Math.max(0, opts.budget - spent).toFixed(0)
            } s of the ${opts.budget} s budget left (--budget S or --full to run it)`;
            skipped.push({ shape, steps, normalizer, reason, predictedSeconds: cost });
            notes.push(reason);
            log(`bench: note: ${reason}`);
            continue;
          }
        }
        if (gemm === undefined) lastGemm = gemm = await tuneGemm();
        const cell: Cell = { normalizer, ...shape, steps, flop, fused: {}, unfused: { gemm } };
        log(`bench: [${elapsed()}] ${normalizer} M=${M} D=${D} B=${B} steps=${steps}`);

        // CPU float64 reference (smallest shape only): also the yardstick for agreement.
        let refStates: Float64Array | undefined;
        if (opts.reference && M * D * B <= 1024 * 64 * 64) {
          try {
            let out: ReturnType<typeof retrieveReference> | undefined;
            const timing = await timeCalls(
              () => Promise.resolve(out = retrieveReference(model, X, Q)),
              flop,
              opts.minTime,
            );
            refStates = out!.states.data;
            cell.reference = { timing };
          } catch (e) {
            cell.reference = { error: errorText(e) };
          }
        }

        // Unfused pipeline.
        let unfusedStates: Float32Array | undefined;
        try {
          const u = await loadUnfused(model, X, ctx, { gemm });
          try {
            const timing = await timeCalls(
              async () => unfusedStates = (await u.retrieve(Q)).states,
              flop,
              opts.minTime,
            );
            cell.unfused = { gemm, timing };
          } finally {
            u.destroy();
          }
        } catch (e) {
          cell.unfused = { gemm, error: errorText(e) };
        }
        const yardstick = refStates
          ? { name: "reference", states: refStates }
          : unfusedStates
          ? { name: "unfused", states: unfusedStates }
          : undefined;
        if (refStates && unfusedStates && cell.unfused.timing) {
          cell.unfused.agreement = {
            against: "reference",
            relErr: relativeError(unfusedStates, refStates),
          };
        }

        // hopc fused.
        try {
          const r = await load(model, X, ctx);
          try {
            let states: Float32Array | undefined;
            const timing = await timeCalls(
              async () => states = (await r.retrieve(Q)).states,
              flop,
              opts.minTime,
            );
            cell.fused = { timing };
            if (yardstick && states) {
              cell.fused.agreement = {
                against: yardstick.name,
                relErr: relativeError(states, yardstick.states),
              };
            }
            // Support of the final weights (one more call, not timed).
            const w = (await r.retrieve(Q, { weights: true })).weights;
            if (w) {
              let nz = 0;
              for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++;
              cell.support = nz / B;
            }
          } finally {
            r.destroy();
          }
        } catch (e) {
          cell.fused = { error: errorText(e) };
        }

        // onnxruntime-web, WebGPU EP (softmax only): the steps chained in one graph.
        if (normalizer === "softmax" && opts.ort) {
          if (!ortStatus.available) {
            cell.ort = { error: ortStatus.error };
          } else {
            try {
              const s = await createOrtRetrieval(
                { X: X32, M, D, B, beta: opts.beta, steps },
                ctx.device,
              );
              ortStatus.sharedDevice = s.sharedDevice;
              try {
                let states: Float32Array | undefined;
                const timing = await timeCalls(
                  async () => states = await s.run(Q32),
                  flop,
                  opts.minTime,
                );
                cell.ort = { timing, note: "steps chained in one ONNX graph, one session.run" };
                if (yardstick && states) {
                  cell.ort.agreement = {
                    against: yardstick.name,
                    relErr: relativeError(states, yardstick.states),
                  };
                }
              } finally {
                await s.release();
              }
            } catch (e) {
              cell.ort = { error: errorText(e) };
              if (e instanceof OrtUnavailable) {
                ortStatus = { available: false, error: errorText(e) };
              }
            }
          }
        }

        for (
          const [path, p] of [["fused", cell.fused], ["unfused", cell.unfused], ["ort", cell.ort]]
        ) {
          const t = (p as PathResult | undefined)?.timing;
          if (t) rates.set(`${path}:${normalizer}`, t.gflops);
        }
        const f = cell.fused.timing?.ms, u = cell.unfused.timing?.ms, o = cell.ort?.timing?.ms;
        if (f && u) cell.speedupVsUnfused = u / f;
        if (f && o) cell.speedupVsOrt = o / f;
        for (
          const [name, p] of [["fused", cell.fused], ["unfused", cell.unfused], [
            "ort",
            cell.ort,
          ]] as const
        ) {
          if (p?.error) log(`bench:   ${name} failed: ${p.error}`);
          if (p?.agreement && !(p.agreement.relErr <= AGREEMENT_TOL)) {
            log(
              `bench:   WARNING ${name} differs from ${p.agreement.against}: relative ${
                p.agreement.relErr.toExponential(2)
              }`,
            );
          }
        }
        log(`bench:   ${cellLine(cell)}`);
        cells.push(cell);
      }
    }
  }

  const seconds = (performance.now() - t0) / 1000;
  console.log(table(cells));
  for (const n of notes) console.log(`note: ${n}`);
  if (ortStatus.error && opts.ort && opts.only.includes("softmax")) {
    console.log(`note: onnxruntime-web: ${ortStatus.error}`);
  }
  console.log(
    `GFLOP/s counts 4·M·D·B·steps (the two GEMMs). Speedup = other path's ms / fused ms (> 1: ` +
      `fused is faster). Median of >= 3 calls after one warm-up. Total ${seconds.toFixed(0)} s.`,
  );

  const report = {
    tool: "hopc bench",
    date: started.toISOString(),
    command: `deno run -A bench/main.ts${Deno.args.length ? " " + Deno.args.join(" ") : ""}`,
    adapter: {
      description: ctx.info,
      info: {
        vendor: ctx.adapter.info.vendor,
        architecture: ctx.adapter.info.architecture,
        device: ctx.adapter.info.device,
        description: ctx.adapter.info.description,
      },
      cpuAdapter,
      features: [...ctx.features],
      limits: ctx.limits,
      backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
    },
    deno: Deno.version,
    host: {
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpus: navigator.hardwareConcurrency,
      loadavgStart: loadStart,
      loadavgEnd: Deno.loadavg(),
    },
    options: opts,
    data: "X entries N(0, 1/D); query b = memory (7b mod M) + N(0, 0.09/D) noise; seeded",
    flopCount: "4*M*D*B*steps (the two GEMMs per step)",
    unfusedGemm: Object.fromEntries(gemmChoice),
    onnxruntimeWeb: ortStatus,
    skipped,
    notes,
    totalSeconds: seconds,
    cells,
  };
  const out = opts.out ?? `bench/results/${slug(ctx.info)}-${dateStamp(started, true)}.json`;
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
  console.log(`wrote ${out}`);
}

// ---------------------------------------------------------------------------------------------
// Printing

function fmtMs(t?: Timing): string {
  if (!t) return "-";
  return t.ms >= 100 ? t.ms.toFixed(0) : t.ms >= 10 ? t.ms.toFixed(1) : t.ms.toFixed(2);
}

function fmtG(t?: Timing): string {
  return t ? t.gflops.toFixed(t.gflops >= 10 ? 1 : 2) : "-";
}

function fmtX(x?: number): string {
  return x === undefined ? "-" : `${x.toFixed(2)}x`;
}

function pathCell(p?: PathResult): [string, string] {
  if (!p) return ["", ""];
  if (p.error) return ["error", ""];
  return [fmtMs(p.timing), fmtG(p.timing)];
}

function cellLine(c: Cell): string {
  const part = (name: string, p?: PathResult) =>
    p ? `${name} ${p.error ? "error" : `${fmtMs(p.timing)} ms (${fmtG(p.timing)} GFLOP/s)`}` : "";
  return [
    part("fused", c.fused),
    part("unfused", c.unfused),
    part("ort", c.ort),
    part("ref", c.reference),
  ].filter((s) => s).join(", ");
}

function table(cells: Cell[]): string {
  const head = [
    "normalizer",
    "M",
    "D",
    "B",
    "steps",
    "fused ms",
    "GF/s",
    "unfused ms",
    "GF/s",
    "ORT ms",
    "GF/s",
    "ref f64 ms",
    "vs unfused",
    "vs ORT",
    "support",
  ];
  const rows = cells.map((c) => [
    c.normalizer,
    String(c.M),
    String(c.D),
    String(c.B),
    String(c.steps),
    ...pathCell(c.fused),
    ...pathCell(c.unfused),
    ...pathCell(c.ort),
    c.reference ? (c.reference.error ? "error" : fmtMs(c.reference.timing)) : "",
    fmtX(c.speedupVsUnfused),
    fmtX(c.speedupVsOrt),
    c.support === undefined ? "" : c.support.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    "| " + r.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(" | ") +
    " |";
  return [
    line(head),
    "|" + widths.map((w, i) => (i === 0 ? "-" : "-").repeat(w + 2)).join("|") + "|",
    ...rows.map(line),
  ]
    .join("\n");
}

if (import.meta.main) await main();
