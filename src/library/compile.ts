// The library's front end: a `.hop` source string in; its diagnostics, and per model the checked
// IR, the plan and the WGSL for a memory shape. The same functions the command line runs (checkText,
// planForAdapter, the kernel generators), wrapped so that nothing reads a file.
import { type Diagnostic, formatDiagnostics } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import { checkText } from "../check.ts";
import { gpuUnsupported, type Plan } from "../plan/plan.ts";
import { type AdapterFacts, planForAdapter } from "../plan/adapter.ts";
import { pickModel } from "../pick_model.ts";
import { assemble } from "../runtime/blocked/wgsl.ts";
import { generateKernel, kernelSpec } from "../wgsl/spec.ts";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** The name diagnostics give the source (default `input.hop`). */
  file?: string;
  /** Values overriding the file's `param`s, as `--set NAME=VALUE` does. */
  sets?: Record<string, number>;
}

/** A memory shape: M memories of dimension D. */
export interface MemoryShape {
  M: number;
  D: number;
}

/** One checked model of a source. */
export interface CompiledModel {
  /** The model's name in the source. */
  readonly name: string;
  /** The checked model IR: what {@link load} and {@link reference} take (as does this object). */
  readonly ir: Model;
  /** Why the model has no GPU lowering (it then runs only on the reference), or null. */
  readonly gpuUnsupported: string | null;
  /**
   * The kernel plan for memories of `shape` on `adapter` (a GpuContext from acquireDevice), or
   * with WebGPU's default limits when none is given: what `hopc explain --emit plan` prints.
   * A plan `hopc tune` cached for the adapter and shape bucket is used, as load does.
   * Throws a HopError for a model without a GPU lowering or a shape the adapter cannot hold.
   */
  plan(shape: MemoryShape, adapter?: AdapterFacts | null): Promise<Plan>;
  /**
   * The WGSL that runs this model at `shape` on `adapter`: the query-blocked kernels assembled
   * for the plan (their text depends on the shape), or the model's fixed-text kernel.
   */
  wgsl(shape: MemoryShape, adapter?: AdapterFacts | null): Promise<string>;
}

/** What {@link compile} gives back. */
export interface CompileResult {
  /** No diagnostic is an error. */
  readonly ok: boolean;
  /** Every error and warning of the source, in source order, with line and column. */
  readonly diagnostics: Diagnostic[];
  /** The models free of errors, in source order (others may have failed: see `ok`). */
  readonly models: CompiledModel[];
  /** The model called `name`, or the only model; a HopError naming the choices otherwise. */
  model(name?: string): CompiledModel;
  /** The diagnostics as the command line prints them: `FILE:LINE:COL: error: ...`, the line, a caret. */
  format(): string;
}

/**
 * Parse and check a `.hop` source. Never throws on a bad source: every problem is a diagnostic.
 *
 * ```ts
 * const result = compile("model m { entropy sparsemax  beta 4 }");
 * if (!result.ok) console.error(result.format());
 * const plan = await result.model("m").plan({ M: 1024, D: 64 });
 * ```
 */
export function compile(source: string, options: CompileOptions = {}): CompileResult {
  const file = options.file ?? "input.hop";
  const { models, diagnostics } = checkText(source, file, options.sets ?? {});
  const compiled = models.map(compiledModel);
  return {
    ok: !diagnostics.some((d) => d.severity === "error"),
    diagnostics,
    models: compiled,
    model: (name) => pickModel(compiled, name, file),
    format: () => formatDiagnostics(diagnostics, new Map([[file, source]])),
  };
}

function compiledModel(ir: Model): CompiledModel {
  return {
    name: ir.name,
    ir,
    gpuUnsupported: gpuUnsupported(ir),
    plan: (shape, adapter = null) => planForAdapter(ir, shape, adapter),
    async wgsl(shape, adapter = null) {
      const plan = await planForAdapter(ir, shape, adapter);
      const parts = kernelSpec(ir).blocked;
      return plan.kernel === "blocked" && plan.blocked && parts
        ? assemble(parts, plan.blocked)
        : generateKernel(ir);
    },
  };
}
