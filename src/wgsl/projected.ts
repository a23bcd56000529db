// WGSL for the two kernel families whose scores are not one number per memory row:
//
//  features    kernel retrieval (MATH.md 5.2): the memory is [W; KV] (or KV alone for elu), built
//              once per load. Per step: a = W q (F projections), phi(a), the readout KV^T phi and
//              the normalizer ksum^T phi. The cost is O(F D) per query, whatever the number of
//              memories.
//  quadrature  continuous memory with a gaussian basis or the trapezoid rule (MATH.md 4.1): the
//              memory is the N x D coefficient matrix B. Per step: r = B q, the scores at the P
//              sample points s_j = beta * sum_n psi_n(t_j) r_n, the density over the points,
//              E[psi]_n = sum_j w_j p_j psi_n(t_j) and the readout B^T E[psi]. psi is evaluated in
//              the kernel (never stored), over the few basis functions that reach each point.
//
// Both reuse the row-group readout, reductions, post-transform and entry points of the fused
// kernel (./kernel.ts): one workgroup owns one query and runs every step. The per-query rows
// (projections, point masses) live in the query's slice of the scratch buffer.
import type { Model } from "../ir.ts";
import { KERNEL_EPS, RELU_FLOOR } from "../parts/similarity/features.ts";
import { GAUSSIAN_REACH } from "../reference/continuous.ts";
import type { KernelSpec } from "../runtime/standalone.ts";
import {
  bindings,
  constants,
  type Ctx,
  entryPoints,
  kernelChoices,
  postTransform,
  queryAux,
  readoutPieces,
  reductions,
  stepsLine,
  workgroupMemory,
} from "./kernel.ts";
import { entropyWgsl, f32, maskWgsl, postWgsl, similarityWgsl } from "./lowerings.ts";
import { blockedParts } from "./blocked_parts.ts";

/** Why a continuous memory cannot use the quadrature kernel, or null. */
export function quadratureUnsupported(model: Model): string | null {
  if (!similarityWgsl(model.similarity).linear) {
    return `continuous memory with quadrature lowers \`similarity ${model.similarity.kind}\` only on the CPU (the GPU kernel needs a similarity linear in the signal: dot, cosine or euclidean)`;
  }
  return null;
}

export function projectedSpec(model: Model): KernelSpec {
  const family = kernelChoices(model).family;
  const features = family === "features";
  const sim = features ? null : similarityWgsl(model.similarity);
  const spec: KernelSpec = {
    name: model.name,
    wgsl: "",
    family,
    memoryAux: features || sim?.memoryAux !== "none" ? "host" : "none",
    transformsInputs: postWgsl(model.post, model.beta).transformsInputs,
    mask: model.mask.kind,
    minMemories: 1,
  };
  // The kernel's rows are prepared on the host at load (hopc_host.ts).
  if (model.memory.kind === "continuous") {
    const { basis, functions, width, ridge, points } = model.memory;
    spec.rowExtra = points;
    spec.hostPrep = {
      kind: "continuous",
      spec: { basis, functions, width, ridge, points },
      // A host-given aux (the learned similarities) never meets continuous memory: the checker
      // refuses the combination.
      pointAux: !sim || sim.memoryAux === "host" ? "none" : sim.memoryAux,
    };
  } else if (model.similarity.kind === "features") {
    const { map, count, seed } = model.similarity;
    spec.hostPrep = { kind: "features", spec: { map, count, seed }, beta: model.beta };
  }
  spec.wgsl = features ? featuresKernel(model) : quadratureKernel(model);
  spec.blocked = blockedParts(model) ?? undefined;
  return spec;
}

function context(model: Model): Ctx {
  const features = model.similarity.kind === "features";
  return {
    model,
    plan: kernelChoices(model),
    // features has no per-row score lowering; the shared pieces only read sim.queryAux.
    sim: features
      ? {
        math: "",
        memoryAux: "none",
        queryAux: "none",
        linear: false,
        accumulate: "",
        finish: "",
      }
      : similarityWgsl(model.similarity),
    ent: entropyWgsl(model.entropy),
    mask: maskWgsl(model.mask),
    post: postWgsl(model.post, model.beta),
  };
}

function common(c: Ctx, header: string[], consts: string): string {
  return `${header.map((l) => `// ${l}`.trimEnd()).join("\n")}
${constants(c)}${consts}
${bindings(c)}
${workgroupMemory(c)}
${reductions(c)}
${postTransform(c)}
${queryAux(c)}
${readoutPieces(c)}
// Entry j of this query's row in the scratch buffer.
fn slot(j: u32) -> u32 {
  return (query - shape.first_query) * (shape.M + ROW_EXTRA) + j;
}

fn sync_scratch() {
  storageBarrier();
  workgroupBarrier();
}

// (row . q) for memory row i: the state is in workgroup memory.
fn project(i: u32) -> f32 {
  var total = 0.0;
  for (var ch = 0u; ch < D4; ch = ch + 1u) { total = total + dot(memories[i * D4 + ch], state[ch]); }
  return total;
}

// The state's entry d (a scalar out of its vec4 chunks).
fn state_entry(d: u32) -> f32 {
  return state[d / 4u][d % 4u];
}
`;
}

// ---------------------------------------------------------------------------------------------

function featuresKernel(model: Model): string {
  if (model.similarity.kind !== "features") throw new Error("unreachable");
  const spec = model.similarity;
  const c = context(model);
  const elu = spec.map === "elu";
  const header = [
    `hopc retrieval kernel for model \`${model.name}\` (${model.source.file})`,
    ``,
    `  features retrieval (MATH.md 5.2), map = ${spec.map}, ${
      elu ? "F = D (no random matrix)" : `F = ${spec.count}, seed = ${spec.seed}`
    }`,
    `  q       = post( KV^T phi(q) / (ksum^T phi(q) + 1e-6) )     ${c.post.math}`,
    `  steps   = ${stepsLine(model)}`,
    ``,
    `plan: the memory buffer holds ${
      elu ? "KV (D rows)" : "W (rows 0..F-1) and KV (rows F..2F-1)"
    }, and memory_aux holds ksum (F) and the`,
    `keys' shift c_k, all built once per load on the host. A step costs O(F D) per query and never`,
    `reads the memories themselves. One workgroup per query runs every step.`,
    `Positive features are stabilized exactly: phi(q) is divided by e^{c_q} with c_q its largest`,
    `exponent, and the 1e-6 is rescaled by e^{-(c_k + c_q)} to match (see features.ts).`,
  ];
  const consts = `const ROW_EXTRA: u32 = 0u;
const SQRT_BETA: f32 = ${f32(Math.sqrt(model.beta))};
const LOG_EPS: f32 = ${f32(Math.log(KERNEL_EPS))};   // log(1e-6), the denominator's epsilon
const RELU_FLOOR: f32 = ${f32(RELU_FLOOR)};
`;
  // The number of features and where KV starts among the memory rows.
  const F = elu ? "shape.D" : `${spec.count}u`;
  const kvStart = elu ? "0u" : `${spec.count}u`;
  const phi = spec.map === "positive"
    ? `  // a_f = sqrt(beta) w_f . q - beta |q|^2 / 2; phi_f = exp(a_f - c_q) / sqrt(F).
  var part_sq = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) { part_sq = part_sq + dot(state[ch], state[ch]); }
  let half = 0.5 * BETA * reduce_sum(lid, part_sq);
  var part_max = -3.0e38;
  for (var f = lid; f < F; f = f + WG) {
    let a = SQRT_BETA * project(f) - half;
    scratch[slot(f)] = a;
    part_max = max(part_max, a);
  }
  let c_q = reduce_max(lid, part_max);
  let scale = 1.0 / sqrt(f32(F));
  var part_den = 0.0;
  for (var f = lid; f < F; f = f + WG) {
    let phi = scale * exp(scratch[slot(f)] - c_q);
    scratch[slot(f)] = phi;
    part_den = part_den + phi * memory_aux[f];
  }
  // 1e-6 e^{-(c_k + c_q)}: an overflow to +inf gives q = 0, the limit (as the reference).
  let eps = exp(LOG_EPS - memory_aux[F] - c_q);`
    : spec.map === "relu"
    ? `  // phi_f = relu(sqrt(beta) w_f . q) + 1e-3.
  var part_den = 0.0;
  for (var f = lid; f < F; f = f + WG) {
    let phi = max(SQRT_BETA * project(f), 0.0) + RELU_FLOOR;
    scratch[slot(f)] = phi;
    part_den = part_den + phi * memory_aux[f];
  }
  let eps = exp(LOG_EPS);`
    : `  // phi_d = elu(sqrt(beta) q_d) + 1.
  var part_den = 0.0;
  for (var f = lid; f < F; f = f + WG) {
    let t = SQRT_BETA * state_entry(f);
    let phi = select(exp(t), t + 1.0, t > 0.0);
    scratch[slot(f)] = phi;
    part_den = part_den + phi * memory_aux[f];
  }
  let eps = exp(LOG_EPS);`;
  const step =
    `// One step of kernel retrieval: phi(q) into the scratch row, then KV^T phi / (ksum^T phi + eps).
fn retrieval_step(lid: u32) {
  sync_scratch();   // the previous step's readout has read every row before they are rewritten
  let F = ${F};
${phi}
  let denominator = reduce_sum(lid, part_den) + eps;
  sync_scratch();
  let row_group = lid / CH;
  clear_partials(lid);
  if (row_group < GROUPS) {
    for (var f = row_group; f < F; f = f + GROUPS) { add_memory_row(lid, scratch[slot(f)], ${kvStart} + f); }
  }
  combine_partials(lid, 0.0, denominator);
}
`;
  return [common(c, header, consts), step, entryPoints(c)].join("\n");
}

// ---------------------------------------------------------------------------------------------

function quadratureKernel(model: Model): string {
  if (model.memory.kind !== "continuous") throw new Error("unreachable");
  const mem = model.memory;
  const c = context(model);
  const N = mem.functions, P = mem.points;
  const gaussian = mem.basis === "gaussian";
  const ent = c.ent;
  const sim = c.sim;
  const reach = gaussian ? GAUSSIAN_REACH * mem.width : 0;
  const header = [
    `hopc retrieval kernel for model \`${model.name}\` (${model.source.file})`,
    ``,
    `  continuous memory (MATH.md 4): ${N} ${mem.basis} basis functions${
      gaussian ? ` of width ${mem.width}` : ""
    }, coefficients B (N x D)`,
    `  r       = B q;  s_j = beta * similarity(x(t_j), q) at t_j = j / ${P - 1}   ${sim.math}`,
    `  density = ${ent.math}   (over t, trapezoid rule)`,
    `  q       = post(B^T E_p[psi])                                  ${c.post.math}`,
    `  steps   = ${stepsLine(model)}`,
    ``,
    `plan: one workgroup per query runs every step. r and the points' masses w_j p_j live in the`,
    `query's scratch row (N + P floats); psi_n(t_j) is computed where it is needed${
      gaussian ? `, only for the` : "."
    }`,
    ...(gaussian
      ? [`basis functions within ${GAUSSIAN_REACH} widths of t_j (the rest are < 2.6e-18).`]
      : []),
    `The coefficients B are fitted once per load on the host (float64 ridge regression).`,
  ];
  const consts = `const N: u32 = ${N}u;               // basis functions (rows of the memory buffer)
const P: u32 = ${P}u;               // sample points t_j = j / (P - 1)
const ROW_EXTRA: u32 = P;        // scratch row: r or E[psi] (N), then the points' masses (P)
const H: f32 = ${f32(1 / (P - 1))};    // spacing of the points
${
    gaussian
      ? `const WIDTH: f32 = ${f32(mem.width)};\nconst REACH: f32 = ${
        f32(reach)
      };   // ${GAUSSIAN_REACH} widths\n`
      : ""
  }`;
  const basis = gaussian
    ? `// psi_n(t_j): a gaussian bump of peak 1 centred at (n + 1/2) / N.
fn basis(n: u32, j: u32) -> f32 {
  let d = (f32(j) * H - (f32(n) + 0.5) / f32(N)) / WIDTH;
  return exp(-0.5 * d * d);
}
// The basis functions that reach point j: n in [first, last].
fn first_basis(j: u32) -> u32 { return u32(max(ceil((f32(j) * H - REACH) * f32(N) - 0.5), 0.0)); }
fn last_basis(j: u32) -> u32 { return min(N - 1u, u32(max(floor((f32(j) * H + REACH) * f32(N) - 0.5), 0.0))); }
// The points that basis function n reaches: j in [first, last].
fn first_point(n: u32) -> u32 { return u32(max(ceil(((f32(n) + 0.5) / f32(N) - REACH) / H), 0.0)); }
fn last_point(n: u32) -> u32 { return min(P - 1u, u32(max(floor(((f32(n) + 0.5) / f32(N) + REACH) / H), 0.0))); }
`
    : `// Box bins [n/N, (n+1)/N), the last closed at t = 1. The bin of t_j = j / (P - 1) in integers,
// so points on a boundary land exactly where the reference puts them.
fn bin_of(j: u32) -> u32 { return min(N - 1u, (j * N) / (P - 1u)); }
fn basis(n: u32, j: u32) -> f32 { return select(0.0, 1.0, bin_of(j) == n); }
fn first_basis(j: u32) -> u32 { return bin_of(j); }
fn last_basis(j: u32) -> u32 { return bin_of(j); }
// The points in bin n: the smallest j with j N >= n (P - 1), up to the first of bin n + 1.
fn first_point(n: u32) -> u32 { return (n * (P - 1u) + N - 1u) / N; }
fn last_point(n: u32) -> u32 { return select(min(P - 1u, first_point(n + 1u) - 1u), P - 1u, n + 1u == N); }
`;
  const trapezoid = `// Trapezoid weight of point j.
fn trapezoid(j: u32) -> f32 { return select(H, 0.5 * H, j == 0u || j == P - 1u); }
`;
  const scoreAt =
    `  // Scores at the points: the signal x(t_j) = B^T psi(t_j), so x(t_j) . q = psi(t_j) . r.
  var part_max = -3.0e38;
  for (var j = lid; j < P; j = j + WG) {
    var acc_j = 0.0;
    for (var n = first_basis(j); n <= last_basis(j); n = n + 1u) { acc_j = acc_j + basis(n, j) * scratch[slot(n)]; }
    let acc = acc_j;
${
      sim.memoryAux === "none"
        ? ""
        : "    let mem_aux = memory_aux[j];\n"
    }    let s = BETA * (${sim.finish});
    scratch[slot(N + j)] = s;
    part_max = max(part_max, s);
  }
  let m = reduce_max(lid, part_max);`;
  const density = ent.kind === "exp"
    ? `  // Gibbs density p_j = exp(s_j - m) / sum_k w_k exp(s_k - m); keep the mass w_j p_j.
  var part_z = 0.0;
  for (var j = lid; j < P; j = j + WG) {
    let e = exp(scratch[slot(N + j)] - m);
    scratch[slot(N + j)] = e;
    part_z = part_z + trapezoid(j) * e;
  }
  let z = reduce_sum(lid, part_z);
  for (var j = lid; j < P; j = j + WG) { scratch[slot(N + j)] = trapezoid(j) * scratch[slot(N + j)] / z; }`
    : (() => {
      if (ent.kind !== "threshold") throw new Error("unreachable");
      const alpha = model.entropy.kind === "tsallis" ? model.entropy.alpha : 2;
      // mass(tau) = sum_j w_j [x_j - tau]_+^(1/(alpha-1)) falls in tau; at tau = 0 it is 0 (the
      // top point has x = 0), and at -(1/w_min)^(alpha-1) the top point alone carries >= 1.
      const lo = -Math.pow(2 * (P - 1), alpha - 1);
      return `  // Continuous entmax density (MATH.md 4.2 item 3): p_j = [x_j - tau]_+^(1/(alpha-1)) with
  // x_j = (alpha - 1)(s_j - m), tau by bisection on sum_j w_j p_j = 1; keep the mass w_j p_j.
  for (var j = lid; j < P; j = j + WG) {
    scratch[slot(N + j)] = shifted(scratch[slot(N + j)], m);
  }
  sync_scratch();
  var lo = ${f32(lo)};   // -(1 / w_min)^(alpha - 1), w_min = H / 2
  var hi = 0.0;
  for (var it = 0u; it < ${c.plan.bisectionIterations}u; it = it + 1u) {
    let tau = 0.5 * (lo + hi);
    var part_f = 0.0;
    for (var j = lid; j < P; j = j + WG) { part_f = part_f + trapezoid(j) * summand(scratch[slot(N + j)], tau); }
    if (reduce_sum(lid, part_f) >= 1.0) { lo = tau; } else { hi = tau; }
  }
  let tau = lo;   // mass >= 1 here, so the support is never empty
  var part_total = 0.0;
  for (var j = lid; j < P; j = j + WG) {
    let p = weight(scratch[slot(N + j)], tau);
    scratch[slot(N + j)] = p;
    part_total = part_total + trapezoid(j) * p;
  }
  let total = reduce_sum(lid, part_total);
  for (var j = lid; j < P; j = j + WG) { scratch[slot(N + j)] = trapezoid(j) * scratch[slot(N + j)] / total; }`;
    })();
  const thresholdFns = ent.kind === "threshold"
    ? `// ${ent.math}
fn shifted(s: f32, m: f32) -> f32 { return ${ent.shift}; }
fn summand(x: f32, tau: f32) -> f32 { return ${ent.summand}; }
fn weight(x: f32, tau: f32) -> f32 { return ${ent.weight}; }
`
    : "";
  const hasAux = sim.queryAux !== "none";
  const step = `${basis}${trapezoid}${thresholdFns}
// One step: r = B q, scores at the points, density, E[psi], readout B^T E[psi].
fn retrieval_step(lid: u32) {
  sync_scratch();   // the previous step's readout has read every row before they are rewritten
  let query_aux = ${hasAux ? "query_aux_of_state(lid)" : "0.0"};
  for (var n = lid; n < N; n = n + WG) { scratch[slot(n)] = project(n); }
  sync_scratch();
${scoreAt}
  sync_scratch();
${density}
  sync_scratch();
  // E_p[psi_n] = sum_j w_j p_j psi_n(t_j), over the points basis function n reaches.
  for (var n = lid; n < N; n = n + WG) {
    var e = 0.0;
    for (var j = first_point(n); j <= last_point(n); j = j + 1u) { e = e + scratch[slot(N + j)] * basis(n, j); }
    scratch[slot(n)] = e;
    if (shape.write_weights == 1u) { weights[query * N + n] = e; }
  }
  sync_scratch();
  let row_group = lid / CH;
  clear_partials(lid);
  if (row_group < GROUPS) {
    for (var n = row_group; n < N; n = n + GROUPS) {
      let e = scratch[slot(n)];
      if (e != 0.0) { add_memory_row(lid, e, n); }   // exact zeros of a sparse density are skipped
    }
  }
  combine_partials(lid, 0.0, 1.0);
}
`;
  return [common(c, header, consts), step, entryPoints(c)].join("\n");
}
