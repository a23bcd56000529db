// Every generated kernel variant, validated by both shader compilers that matter: naga (Deno's
// WebGPU, which runs the kernels here) and Tint (Dawn's null backend, what a browser runs). The
// variants are the models of the covering design in tests/gpu_agreement_test.ts, each at its own
// shapes and at the other score-row placement (workgroup / storage), plus large-D plans (one row
// per X tile, more vec4 chunks than threads) and plans for WebGPU's default limits.
//
// The WGSL text depends only on the model; the shapes arrive as override constants. Each variant is
// checked twice: the text as emitted (override defaults), and the text specialized to the plan's
// constants (each `override` turned into a `const` of the plan's value), since validateNaga and
// validateTint build their pipelines without constants. On the specialized text Tint runs its
// pipeline checks, workgroup storage included; storage over WebGPU's default 16 KiB but within the
// device's limit comes back as a warning (validate.ts's judgement, printed below), never an error.
// Every kernel's `var<workgroup>` declarations are also summed from the text: no more than the
// plan's workgroupBytes, which is within the device's limit.
import assert from "node:assert/strict";
import type { Model } from "../src/ir.ts";
import { DEFAULT_LIMITS, type DeviceLimits, makePlan, type Plan } from "../src/plan/plan.ts";
import { HopError } from "../src/diagnostics.ts";
import { type Message, validateNaga, validateTint } from "../src/runtime/validate.ts";
import { generateKernel } from "../src/wgsl/spec.ts";
import { checkOne, designCases, modelText, rowCapacityOf } from "./gpu_agreement_test.ts";

import { gpuContext, gpuTest } from "./helpers/gpu.ts";
import { workgroupDeclarations } from "./helpers/wgsl.ts";

const ctx = gpuContext;

/** The compute entry points of a WGSL text (main, and prepare for the memories). */
function entryPoints(code: string): string[] {
  const names = [...code.matchAll(/@compute\s+@workgroup_size\([^)]*\)\s*fn\s+(\w+)/g)].map((m) =>
    m[1]
  );
  assert.ok(names.includes("main"), "a compute entry point `main`");
  return names;
}

/** `override NAME: TYPE = DEFAULT;` declarations of a WGSL text, by name. */
export function overrides(code: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of code.matchAll(/^override\s+(\w+)\s*:\s*(\w+)\s*=[^;]*;/gm)) out.set(m[1], m[2]);
  return out;
}

/** The text with each override replaced by a const of the plan's value (what the pipeline sees). */
export function specialize(code: string, constants: Record<string, number>): string {
  const declared = overrides(code);
  assert.deepEqual(
    [...declared.keys()].sort(),
    Object.keys(constants).sort(),
    "the plan sets exactly the overrides the WGSL declares",
  );
  return code.replace(/^override\s+(\w+)\s*:\s*(\w+)\s*=[^;]*;/gm, (_all, name, type) => {
    const v = constants[name];
    const literal = type === "bool" ? String(v !== 0) : type === "u32" ? `${v}u` : String(v);
    return `const ${name}: ${type} = ${literal};`;
  });
}

/** One kernel variant: a model's WGSL at one plan. */
interface Variant {
  label: string;
  model: Model;
  plan: Plan;
  limits: DeviceLimits;
}

function variants(limits: DeviceLimits): Variant[] {
  const out: Variant[] = [];
  const add = (label: string, model: Model, M: number, D: number, lim = limits) =>
    out.push({ label, model, plan: makePlan(model, { M, D }, lim), limits: lim });
  for (const c of designCases(limits)) {
    add(`${c.name} M=${c.M} D=${c.D}`, c.model, c.M, c.D);
    const first = makePlan(c.model, { M: c.M, D: c.D }, limits);
    if (first.family === "threshold") {
      // The other placement of the score row, at the same D.
      const capacity = rowCapacityOf(c.model, c.D, limits);
      const other = first.scores === "workgroup" ? capacity + 1 : Math.min(capacity, 16);
      add(`${c.name} M=${other} D=${c.D} (other placement)`, c.model, other, c.D);
    }
    // The same model for a browser that grants only WebGPU's default limits (where D fits).
    try {
      const lowCap = rowCapacityOf(c.model, c.D, DEFAULT_LIMITS);
      const M = Math.min(c.M, lowCap);
      add(`${c.name} M=${M} D=${c.D} (default limits)`, c.model, M, c.D, DEFAULT_LIMITS);
    } catch (e) {
      if (!(e instanceof HopError && /dimension D = \d+ needs/.test(e.message))) throw e;
    }
  }
  // Large D: one row per tile, vec4 chunks beyond the workgroup size, both placements.
  const fields = {
    similarity: "cosine",
    post: "layernorm",
    beta: 2,
    steps: "until(tol = 1e-5, max = 5)",
  };
  const wide: [string, string][] = [
    ["sparsemax", "topk(k = 2)"],
    ["shannon", "random(keep = 0.5)"],
    ["normmax(gamma = 5)", "none"],
  ];
  for (const [entropy, mask] of wide) {
    const model = checkOne(modelText("wide", { ...fields, entropy }, mask));
    for (const D of [1500, 1800]) {
      const capacity = rowCapacityOf(model, D, limits);
      add(`wide ${entropy} M=4 D=${D}`, model, 4, D);
      add(`wide ${entropy} M=${capacity + 1} D=${D}`, model, capacity + 1, D);
    }
  }
  // The projected families: features (each map) and continuous quadrature (each basis, density,
  // linear similarity), small and large D.
  const projected = [
    "similarity features(map = positive, count = 64)\n  post l2\n  steps until(tol = 1e-5, max = 5)",
    "similarity features(map = relu, count = 300, seed = 2)\n  post layernorm",
    "similarity features(map = elu)\n  post tanh\n  steps 3",
    "memory continuous(basis = gaussian, functions = 64)\n  similarity cosine",
    "memory continuous(basis = gaussian, functions = 20, width = 0.1, points = 101)\n  entropy sparsemax\n  similarity euclidean\n  steps until(tol = 1e-5, max = 5)",
    "memory continuous(basis = box, functions = 16, quadrature = trapezoid)\n  entropy tsallis(alpha = 1.5)\n  post layernorm",
  ];
  projected.forEach((fields, i) => {
    const model = checkOne(`model projected${i} {\n  ${fields}\n  beta 2\n}\n`);
    add(`projected ${i} M=500 D=13`, model, 500, 13);
    add(`projected ${i} M=500 D=1500`, model, 500, 1500);
    add(`projected ${i} M=500 D=64 (default limits)`, model, 500, 64, DEFAULT_LIMITS);
  });
  return out;
}

const errorsOf = (ms: Message[]) => ms.filter((m) => m.severity === "error");
const warningsOf = (ms: Message[]) => ms.filter((m) => m.severity === "warning");
const show = (ms: Message[]) =>
  ms.map((m) => `${m.compiler}${m.line ? `:${m.line}:${m.col}` : ""} ${m.severity}: ${m.text}`)
    .join("\n");

if (ctx) {
  const all = variants(ctx.limits);
  const warnings = new Map<string, string[]>();
  const note = (label: string, ms: Message[]) => {
    for (const m of warningsOf(ms)) {
      const key = `${m.compiler}: ${m.text.replace(/\(\d+ bytes\)/, "(N bytes)")}`;
      warnings.set(key, [...(warnings.get(key) ?? []), label]);
    }
  };

  gpuTest("the variants cover both score placements, large D and small tiles", () => {
    const plans = all.map((v) => v.plan);
    assert.ok(plans.some((p) => p.scores === "workgroup"));
    assert.ok(plans.some((p) => p.scores === "storage"));
    assert.ok(plans.some((p) => p.family === "online"));
    assert.ok(plans.some((p) => p.tileRows === 1), "one row per tile");
    assert.ok(plans.some((p) => p.paddedDim / 4 > p.workgroupSize), "more chunks than threads");
    assert.ok(plans.some((p) => p.groups > 1), "several row groups");
    assert.ok(plans.some((p) => p.family === "features"), "features kernels");
    assert.ok(plans.some((p) => p.family === "quadrature"), "quadrature kernels");
    console.log(
      `${all.length} kernel variants (${
        new Set(all.map((v) => generateKernel(v.model))).size
      } WGSL texts)`,
    );
  });

  gpuTest("workgroup memory: declarations <= plan.workgroupBytes <= the device limit", () => {
    for (const v of all) {
      const code = specialize(generateKernel(v.model), v.plan.overrides);
      const decls = workgroupDeclarations(code);
      const declared = [...decls.values()].reduce((a, b) => a + b, 0);
      const limit = v.limits.maxComputeWorkgroupStorageSize;
      assert.ok(
        declared <= v.plan.workgroupBytes,
        `${v.label}: declares ${declared} bytes (${
          JSON.stringify(Object.fromEntries(decls))
        }), plan says ${v.plan.workgroupBytes}`,
      );
      assert.ok(v.plan.workgroupBytes <= limit, `${v.label}: ${v.plan.workgroupBytes} > ${limit}`);
      // Tint and Dawn round each variable up to 16 bytes: that must fit too.
      const rounded = [...decls.values()].reduce((a, b) => a + Math.ceil(b / 16) * 16, 0);
      assert.ok(rounded <= limit, `${v.label}: ${rounded} bytes rounded to 16 > ${limit}`);
    }
  });

  gpuTest("a D whose tile row cannot fit is a HopError, not a broken kernel", () => {
    const model = checkOne(
      modelText("huge", {
        similarity: "dot",
        entropy: "sparsemax",
        post: "identity",
        beta: 1,
        steps: "1",
      }, "none"),
    );
    assert.throws(
      () => makePlan(model, { M: 4, D: 4000 }, ctx.limits),
      (e) =>
        e instanceof HopError &&
        /dimension D = 4000 needs \d+ bytes of workgroup memory/.test(e.message),
    );
  });

  // One test per WGSL text, with all its plans: naga on the device, Tint on the null backend.
  const byText = new Map<string, Variant[]>();
  for (const v of all) {
    const code = generateKernel(v.model);
    byText.set(code, [...(byText.get(code) ?? []), v]);
  }
  for (const [code, vs] of byText) {
    gpuTest(
      `validate ${vs[0].label.split(" ")[0]}: ${vs.length} plan(s), naga and Tint`,
      async (ctx) => {
        // As emitted (override defaults): both compilers, both entry points.
        for (const entryPoint of entryPoints(code)) {
          const naga = await validateNaga(ctx.device, code, { entryPoint });
          const tint = await validateTint(code, { entryPoint, limits: ctx.device.limits });
          assert.deepEqual(
            errorsOf([...naga, ...tint]),
            [],
            `${vs[0].label} ${entryPoint}:\n${show([...naga, ...tint])}`,
          );
          note(`${vs[0].label} (as emitted) ${entryPoint}`, [...naga, ...tint]);
        }
        for (const v of vs) {
          const special = specialize(code, v.plan.overrides);
          for (const entryPoint of entryPoints(code)) {
            const tint = await validateTint(special, { entryPoint, limits: v.limits });
            const naga = v.limits === DEFAULT_LIMITS
              ? []
              : await validateNaga(ctx.device, special, { entryPoint });
            const ms = [...naga, ...tint];
            assert.deepEqual(errorsOf(ms), [], `${v.label} ${entryPoint}:\n${show(ms)}`);
            note(`${v.label} ${entryPoint}`, ms);
            if (v.limits === DEFAULT_LIMITS) {
              // Within WebGPU's defaults Tint runs every pipeline check: nothing to say at all.
              assert.deepEqual(warningsOf(tint), [], `${v.label} ${entryPoint}:\n${show(tint)}`);
            }
            // Tint's own count of the workgroup storage, where it reports one, is within the limit.
            for (const m of tint) {
              const bytes = /workgroup storage \((\d+) bytes\)/.exec(m.text);
              if (bytes) {
                assert.ok(
                  +bytes[1] <= v.limits.maxComputeWorkgroupStorageSize,
                  `${v.label}: ${m.text}`,
                );
              }
            }
          }
        }
      },
    );
  }

  gpuTest("validation warnings (printed)", () => {
    const lines = [...warnings].map(([text, labels]) =>
      `  ${text}\n    in ${labels.length} variant(s), e.g. ${labels.slice(0, 3).join("; ")}`
    );
    console.log(lines.length ? `warnings:\n${lines.join("\n")}` : "no warnings");
  });
}
