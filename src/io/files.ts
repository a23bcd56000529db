// Files for the command line (Deno only): reading `.npy` arrays from paths and writing outputs
// atomically. Kept apart from ./npy.ts, which works on bytes and is part of the browser-safe
// library (mod.ts).
import { inputError } from "../diagnostics.ts";
import { type Array2D, parseNpy } from "./npy.ts";

export async function readNpy(path: string): Promise<Array2D> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw inputError(path, `cannot read the file: ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

/**
 * Write atomically: the bytes go to a temporary file beside the target, which is then renamed,
 * so a failed run never leaves a partial or empty output file.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
