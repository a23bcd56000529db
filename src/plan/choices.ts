// Model-level choices of the kernel plan: which family of kernel a model lowers to and how many
// halvings its threshold search takes. They depend on the model alone (not on shapes or the
// adapter), so the WGSL generators and the plan share them from here.
import type { Model } from "../ir.ts";
import { poolContinuous } from "./continuous_pass.ts";

/** Model-level choices of the kernel (the shape-level ones are override constants). */
export interface KernelChoices {
  /**
   * online / threshold: scores over the memory rows (src/wgsl/kernel.ts); features / quadrature:
   * scores over projections of the state (src/wgsl/projected.ts).
   */
  family: "online" | "threshold" | "features" | "quadrature";
  /** Halvings of the threshold interval (MATH.md 3.4 table: 30 reach f32's floor for alpha <= 2). */
  bisectionIterations: number;
}

export function kernelChoices(model: Model): KernelChoices {
  if (model.similarity.kind === "features") return { family: "features", bisectionIterations: 0 };
  if (model.memory.kind === "continuous" && !poolContinuous(model)) {
    // The continuous entmax density bisects over a bracket as wide as (1/w_min)^(alpha-1).
    const dense = model.entropy.kind === "shannon";
    return { family: "quadrature", bisectionIterations: dense ? 0 : 40 };
  }
  // A separation function works on a kept score row (no online form), with no search.
  if (model.separation.kind !== "fenchel_young") {
    return { family: "threshold", bisectionIterations: 0 };
  }
  const thresholded = model.entropy.kind !== "shannon" && model.entropy.kind !== "softmax1";
  const family = thresholded || model.mask.kind === "topk" ? "threshold" : "online";
  // k-subsets brackets tau by the score range rather than [-1, 0], so it takes 40.
  const bisectionIterations = !thresholded ? 0 : model.entropy.kind === "ksubsets" ? 40 : 30;
  return { family, bisectionIterations };
}

/** The iteration policy in one line, for the headers of the generated WGSL. */
export function stepsLine(model: Model): string {
  return model.steps.kind === "fixed"
    ? `${model.steps.count}`
    : `until |q_t - q_{t-1}| < ${model.steps.tol}, at most ${model.steps.max}`;
}
