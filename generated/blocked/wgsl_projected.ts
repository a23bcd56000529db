// Copied by hopc from src/runtime/blocked/wgsl_projected.ts. Do not edit.
// WGSL of the per-query pass of the two families whose scored rows are projections of the state
// (features, MATH.md 5.2; continuous quadrature, MATH.md 4.1). The score pass has already put the
// projections of each query into its score row (a = W q, or r = B q), computed by the same
// query-blocked GEMM as memory scores; this pass turns that row into readout weights in place,
// and the readout pass then reads the value rows (KV, or B) of the support. Self-contained (see
// ./types.ts).
import type { BlockedParts, ProjectedParts } from "./types.ts";
import { f32 } from "./wgsl_common.ts";

const WHICH = `  let local = wid.x + wid.y * grid.x;
  if (local >= shape.nq) { return; }  // uniform: the same for the whole workgroup
  let q = shape.q0 + local;`;

const ARGS = `@builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>`;

/** Value rows stored after the M key rows: the features' KV after W; B is keys and values. */
export function valueRows(parts: BlockedParts, M: number): number {
  return parts.projected?.kind === "features" ? M : 0;
}

export function projectedPass(parts: BlockedParts): string {
  const p = parts.projected;
  if (!p) return "";
  return p.kind === "features" ? featuresPass(p) : quadraturePass(p);
}

function featuresPass(p: Extract<ProjectedParts, { kind: "features" }>): string {
  const phi = p.map === "positive"
    ? `  // phi_f = exp(a_f - c_q) / sqrt(F), a_f = sqrt(beta) w_f . q - beta |q|^2 / 2 (the score
  // row); c_q = max_f a_f keeps exp in range, and the epsilon is rescaled by e^{-(c_k + c_q)} to
  // match (an overflow to +inf gives weights 0, so q = 0: the limit, as in the reference).
  var part_max = NO_MAX;
  for (var f = lid; f < F; f = f + WGR) { part_max = max(part_max, scratch[base + f]); }
  let c_q = reduce_max(lid, part_max);
  let scale = 1.0 / sqrt(f32(F));
  var part_den = 0.0;
  for (var f = lid; f < F; f = f + WGR) {
    let phi = scale * exp(scratch[base + f] - c_q);
    scratch[base + f] = phi;
    part_den = part_den + phi * memory_aux[f];
  }
  let eps = exp(LOG_EPS - memory_aux[F] - c_q);`
    : `  // ${
      p.map === "relu"
        ? "phi_f = relu(a_f) + 1e-3, a_f = sqrt(beta) w_f . q"
        : "phi_d = elu(a_d) + 1, a_d = sqrt(beta) q_d (W = I)"
    } (the score row).
  var part_den = 0.0;
  for (var f = lid; f < F; f = f + WGR) {
    let a = scratch[base + f];
    let phi = ${p.map === "relu" ? "max(a, 0.0) + RELU_FLOOR" : "select(exp(a), a + 1.0, a > 0.0)"};
    scratch[base + f] = phi;
    part_den = part_den + phi * memory_aux[f];
  }
  let eps = exp(LOG_EPS);`;
  return `const LOG_EPS: f32 = ${f32(p.logEps)};   // log(1e-6), the denominator's epsilon
const RELU_FLOOR: f32 = ${f32(p.reluFloor)};

// Kernel retrieval weights from the projections, in place: phi / (ksum . phi + eps), so the
// readout over the KV rows is KV^T phi / (ksum^T phi + eps). memory_aux = (ksum, c_k).
@compute @workgroup_size(WGR)
fn row_features(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
  let F = shape.M;
${phi}
  let denominator = reduce_sum(lid, part_den) + eps;
  for (var f = lid; f < F; f = f + WGR) { scratch[base + f] = scratch[base + f] / denominator; }
}
`;
}

function quadraturePass(p: Extract<ProjectedParts, { kind: "quadrature" }>): string {
  const gaussian = p.basis === "gaussian";
  const basis = gaussian
    ? `const WIDTH: f32 = ${f32(p.width)};
const REACH: f32 = ${f32(p.reach)};   // gaussian bumps are cut past this distance in t
// psi_n(t_j): a gaussian bump of peak 1 centred at (n + 1/2) / N.
fn basis(n: u32, j: u32) -> f32 {
  let d = (f32(j) * H - (f32(n) + 0.5) / f32(N)) / WIDTH;
  return exp(-0.5 * d * d);
}
// The basis functions that reach point j: n in [first, last].
fn first_basis(j: u32) -> u32 { return u32(max(ceil((f32(j) * H - REACH) * f32(N) - 0.5), 0.0)); }
fn last_basis(j: u32) -> u32 { return min(N - 1u, u32(max(floor((f32(j) * H + REACH) * f32(N) - 0.5), 0.0))); }
// The points that basis function n reaches: j in [first, last].
fn first_point(n: u32) -> u32 { return u32(max(ceil(((f32(n) + 0.5) / f32(N) - REACH) / H), 0.0)); }
fn last_point(n: u32) -> u32 { return min(P - 1u, u32(max(floor(((f32(n) + 0.5) / f32(N) + REACH) / H), 0.0))); }`
    : `// Box bins [n/N, (n+1)/N), the last closed at t = 1. The bin of t_j = j / (P - 1) in integers,
// so points on a boundary land exactly where the reference puts them.
fn bin_of(j: u32) -> u32 { return min(N - 1u, (j * N) / (P - 1u)); }
fn basis(n: u32, j: u32) -> f32 { return select(0.0, 1.0, bin_of(j) == n); }
fn first_basis(j: u32) -> u32 { return bin_of(j); }
fn last_basis(j: u32) -> u32 { return bin_of(j); }
// The points in bin n: the smallest j with j N >= n (P - 1), up to the first of bin n + 1.
fn first_point(n: u32) -> u32 { return (n * (P - 1u) + N - 1u) / N; }
fn last_point(n: u32) -> u32 { return select(min(P - 1u, first_point(n + 1u) - 1u), P - 1u, n + 1u == N); }`;
  const d = p.density;
  const density = d.kind === "exp"
    ? `  // Gibbs density p_j = exp(s_j - m) / sum_k w_k exp(s_k - m); keep the mass w_j p_j.
  var part_z = 0.0;
  for (var j = lid; j < P; j = j + WGR) {
    let e = exp(scratch[pts + j] - m);
    scratch[pts + j] = e;
    part_z = part_z + trapezoid(j) * e;
  }
  let z = reduce_sum(lid, part_z);
  for (var j = lid; j < P; j = j + WGR) { scratch[pts + j] = trapezoid(j) * scratch[pts + j] / z; }`
    : `  // Continuous entmax density (MATH.md 4.2 item 3): p_j = [x_j - tau]_+^(1/(alpha-1)) with
  // x_j = (alpha - 1)(s_j - m), tau by bisection on sum_j w_j p_j = 1; keep the mass w_j p_j.
  for (var j = lid; j < P; j = j + WGR) { scratch[pts + j] = shifted(scratch[pts + j], m); }
  storageBarrier();
  var lo = ${
      f32(d.lo)
    };   // -(1 / w_min)^(alpha - 1), w_min = H / 2: the top point alone has mass >= 1
  var hi = 0.0;            // the top point has x = 0: mass 0
  for (var it = 0u; it < ${d.iterations}u; it = it + 1u) {
    let tau = 0.5 * (lo + hi);
    var part_f = 0.0;
    for (var j = lid; j < P; j = j + WGR) { part_f = part_f + trapezoid(j) * summand(scratch[pts + j], tau); }
    if (reduce_sum(lid, part_f) >= 1.0) { lo = tau; } else { hi = tau; }
  }
  let tau = lo;   // mass >= 1 here, so the support is never empty
  var part_total = 0.0;
  for (var j = lid; j < P; j = j + WGR) {
    let p = weight(scratch[pts + j], tau);
    scratch[pts + j] = p;
    part_total = part_total + trapezoid(j) * p;
  }
  let total = reduce_sum(lid, part_total);
  for (var j = lid; j < P; j = j + WGR) { scratch[pts + j] = trapezoid(j) * scratch[pts + j] / total; }`;
  const memAux = /mem_aux/.test(p.finish);
  const queryAux = /query_aux/.test(p.finish);
  return `const N: u32 = ${p.N}u;               // basis functions (rows of the memory)
const P: u32 = ${p.P}u;               // sample points t_j = j / (P - 1)
const H: f32 = ${f32(1 / (p.P - 1))};    // spacing of the points
const POINT_BETA: f32 = ${f32(p.beta)};
${basis}
// Trapezoid weight of point j.
fn trapezoid(j: u32) -> f32 { return select(H, 0.5 * H, j == 0u || j == P - 1u); }

// From the projections r = B q (the score row) to the weights E_p[psi] over the N rows, in place:
// the scores at the points (x(t_j) = B^T psi(t_j), so x(t_j) . q = psi(t_j) . r), the density
// over t (trapezoid rule), and E_p[psi_n] = sum_j w_j p_j psi_n(t_j). The points' scores and
// masses live past the score rows in the scratch buffer (P floats per query).
@compute @workgroup_size(WGR)
fn row_density(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
  let pts = 3u * shape.nq * shape.M + local * P;
${queryAux ? "  let query_aux = qinfo[q * QINFO + AUX];\n" : ""}  var part_max = NO_MAX;
  for (var j = lid; j < P; j = j + WGR) {
    var acc = 0.0;
    for (var n = first_basis(j); n <= last_basis(j); n = n + 1u) { acc = acc + basis(n, j) * scratch[base + n]; }
${
    memAux
      ? "    let mem_aux = memory_aux[j];   // the signal's number at t_j\n"
      : ""
  }    let s = POINT_BETA * (${p.finish});
    scratch[pts + j] = s;
    part_max = max(part_max, s);
  }
  let m = reduce_max(lid, part_max);
${density}
  storageBarrier();
  workgroupBarrier();   // every point's mass is stored, every projection read
  let write_weights = (shape.flags & 1u) != 0u;
  for (var n = lid; n < N; n = n + WGR) {
    var e = 0.0;
    for (var j = first_point(n); j <= last_point(n); j = j + 1u) { e = e + scratch[pts + j] * basis(n, j); }
    scratch[base + n] = e;
    if (write_weights) { weights[q * shape.M + n] = e; }
  }
}
`;
}
