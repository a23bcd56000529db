// One WGSL module per (model, plan): every pass of the query-blocked kernels as an entry point.
// The text reads only the model's part snippets and the plan (d4, rowBlock, workgroup sizes,
// where the queries live); M, B and the splits arrive as uniforms. Self-contained (./types.ts).
import type { BlockedParts, BlockedPlan } from "./types.ts";
import { bindings, constants, header, partFunctions, rowHelpers } from "./wgsl_common.ts";
import { blockedHelpers, fusedPass, readoutPass, scorePass } from "./wgsl_blocked.ts";
import { projectedPass } from "./wgsl_projected.ts";
import { scorePassTiled } from "./wgsl_tiled.ts";
import { footprintPass } from "./wgsl_footprint.ts";
import {
  fallbackPass,
  finishPass,
  normalizerPasses,
  preparePasses,
  selectPass,
} from "./wgsl_rows.ts";

/** The entry points a plan's module has, in the order one step runs them. */
export function entryPoints(parts: BlockedParts, plan: BlockedPlan): string[] {
  const out = ["prepare_queries", "prepare_memories"];
  if (parts.mask.kind === "random") out.push("choose_fallback");
  if (plan.schedule === "fused") return [...out, "fused_step", "finish", "fused_weights"];
  out.push(plan.footprint ? "footprint_rows" : "score_rows");
  if (parts.projected) {
    const pass = parts.projected.kind === "features" ? "row_features" : "row_density";
    return [...out, pass, "readout_rows", "finish"];
  }
  if (parts.mask.kind === "topk") out.push("row_select");
  if (parts.ent.kind === "threshold") out.push("row_init", "row_bisect");
  return [...out, "row_weights", "readout_rows", "finish"];
}

export function assemble(parts: BlockedParts, plan: BlockedPlan): string {
  return [
    header(parts, plan),
    constants(parts, plan),
    bindings(),
    partFunctions(parts),
    rowHelpers(parts),
    blockedHelpers(parts, plan),
    preparePasses(parts),
    fallbackPass(parts),
    plan.schedule === "fused" ? fusedPass(parts, plan) : [
      plan.footprint
        ? footprintPass(parts, plan)
        : plan.tile === "workgroup"
        ? scorePassTiled(parts, plan)
        : scorePass(parts, plan),
      ...(parts.projected ? [projectedPass(parts)] : [selectPass(parts), normalizerPasses(parts)]),
      readoutPass(
        plan,
        parts.projected?.kind === "features" ? "M" : parts.readout === "rows" ? "rows" : false,
      ),
    ].join("\n"),
    finishPass(parts, plan),
  ].filter((s) => s.length > 0).join("\n");
}
