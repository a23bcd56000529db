// The kernel of a model, by family: the models that score memory rows (online, threshold: the
// blocked kernels' parts plus the one-workgroup-per-query kernel, ./kernel.ts) and the models that
// score projections of the state (features, quadrature: ./projected.ts). The two generators share
// WGSL pieces in one direction only (projected.ts reads kernel.ts); this file is what the compiler
// and the runtime call.
import type { Model } from "../ir.ts";
import { kernelChoices } from "../plan/choices.ts";
import type { KernelSpec } from "../runtime/standalone.ts";
import { workgroupKernel, workgroupSpec } from "./kernel.ts";
import { projectedSpec } from "./projected.ts";
import { similarityPart } from "../parts/registry.ts";
import { isLearned } from "../parts/similarity/learned.ts";
import { isAhop } from "../parts/similarity/ahop.ts";

function projected(model: Model): boolean {
  const family = kernelChoices(model).family;
  return family === "features" || family === "quadrature";
}

/** What the runtime needs to run a model (its WGSL, family, per-row numbers, host fits). */
export function kernelSpec(model: Model): KernelSpec {
  let spec = projected(model) ? projectedSpec(model) : workgroupSpec(model);
  // CDAM's readout and the relaxed step (MATH.md 7.7) run on the blocked kernels only; the
  // projected rows are computed by the host at load from the memories and the graph.
  const readout = model.readout?.kind === "project" ? model.readout : null;
  const relaxed = (model.relax ?? 1) !== 1;
  if (readout || relaxed) {
    const why = `${
      readout ? "a projected readout" : `\`relax ${model.relax}\``
    } runs on the blocked kernels only: the one-workgroup-per-query kernel has no lowering of it`;
    spec = {
      ...spec,
      wgsl: `// ${why}\n`,
      workgroupUnsupported: spec.workgroupUnsupported ?? why,
      ...(readout ? { readout: { a: readout.a, h: readout.h, c: readout.c } } : {}),
    };
  }
  // A learned similarity (uhop, kernelized): the key rows and biases come from the fitted map at
  // load (opts.fit), on the blocked kernels only.
  if (isLearned(model.similarity)) {
    const why =
      `\`similarity ${model.similarity.kind}\` runs on the blocked kernels only: its key rows and per-memory biases are prepared on the host from the fitted map`;
    spec = {
      ...spec,
      wgsl: `// ${why}\n`,
      workgroupUnsupported: spec.workgroupUnsupported ?? why,
      learned: {
        kind: model.similarity.kind,
        features: model.similarity.kind === "uhop" ? null : model.similarity.dim,
        bias: model.similarity.kind === "kernelized",
      },
    };
  }
  // A-Hop (issue 12 item 3): the footprint pass of the blocked kernels scores it, with the
  // footprint weights' suffix sums and a, b from the fit at load (opts.fit).
  if (isAhop(model.similarity)) {
    const why =
      "`similarity ahop` runs on the blocked kernels only: its footprint pass sorts each (query, memory) pair's D values in a workgroup of its own, which the one-workgroup-per-query kernel has no room for";
    spec = {
      ...spec,
      wgsl: `// ${why}\n`,
      workgroupUnsupported: spec.workgroupUnsupported ?? why,
      footprint: true,
    };
  }
  // Checked again by the generated modules, which run without the host's data checks.
  return similarityPart(model.similarity).nonNegative ? { ...spec, nonNegativeInputs: true } : spec;
}

/** The model's fixed-text kernel (the one-workgroup-per-query kernel or a projected one). */
export function generateKernel(model: Model): string {
  return projected(model) ? projectedSpec(model).wgsl : workgroupKernel(model);
}
