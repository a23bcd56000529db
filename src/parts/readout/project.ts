// readout `project(a, h, c)`: CDAM's projection over graph-linked memories (Burns, ICML 2024;
// MATH.md 7.7).
//
//   rows       R = a X + h H^T X - c 1 mean(X)^T   (H = D^-1/2 A D^-1/2 of `--graph A.npy`)
//   forward    r = R^T p                        (the scores still come from the keys X)
//   modes      a > 0, h = 0: auto-association; h > 0: hetero-association along the graph's
//              edges (memory i reads x_j for an edge j -> i); a < 0 widens the hetero range;
//              a = h = 0 with c > 0: quiescence (every pattern decays to -c mean(X))
//   note       R^T p - c mean(X) with the notebook's normalized softmax weights is R^T p here,
//              for any weights summing to 1; for other weights the mean is scaled by sum p.
//   graph      needed when h != 0 (a run-time data check); H^T X is computed once per load
import type { ReadoutPart } from "../types.ts";
import { number, signature, type SpecOf } from "../signature.ts";
import { projectRows } from "../../runtime/hopc_host.ts";

const finite = { need: "must be a finite number", test: (v: number) => Number.isFinite(v) };

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const projectSignature = signature("project", {
  a: number(finite, 1),
  h: number(finite, 0),
  c: number(finite, 0),
});
export type ProjectReadout = SpecOf<typeof projectSignature>;

export const projectReadout: ReadoutPart<ProjectReadout> = {
  kind: "project",
  signature: projectSignature,
  math: "r = R^T p,  R = a X + h H^T X - c mean(X),  H = D^-1/2 A D^-1/2",
  usesGraph: (spec) => spec.h !== 0,
  rows: (spec, X, H) => projectRows(spec, X, H),
};
