// readout `keys` (the default): the state reads the memories it was scored against.
//
//   forward    r = X^T p   (the plain modern Hopfield update, MATH.md 0.1)
import type { ReadoutPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const keysSignature = signature("keys");
export type KeysReadout = SpecOf<typeof keysSignature>;

export const keysReadout: ReadoutPart<KeysReadout> = {
  kind: "keys",
  signature: keysSignature,
  math: "r = X^T p  (the memories themselves)",
  usesGraph: () => false,
  rows: (_spec, X) => X,
};
