// The plan cache: tuned plans keyed by adapter, family and shape bucket (`hopc tune` writes it,
// the runtime reads it). A JSON file in the user's cache folder under Deno, localStorage in a
// browser.
import type { Model } from "../ir.ts";
import { kernelChoices } from "../plan/choices.ts";
import type { BlockedChoices } from "./blocked/plan.ts";
import type { BlockedPlan } from "./blocked/types.ts";
import { blockedParts } from "../wgsl/blocked_parts.ts";
import { denoRuntime, envVar as env } from "../host/deno.ts";

/** What a tuned plan pins (the run choices of src/runtime/retriever.ts). */
export interface TunedChoices {
  kernel?: "blocked" | "workgroup";
  blocked?: BlockedChoices & { source?: BlockedPlan["source"] };
}

const pow2Up = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Shapes rounded up to powers of two: the shapes one tuned plan stands for. */
export function shapeBucket(M: number, D: number, B: number): { M: number; D: number; B: number } {
  return { M: pow2Up(M), D: pow2Up(D), B: pow2Up(B) };
}

/** The weights' family in the blocked kernels: exp maps, a threshold search, a separation. */
function entropyFamily(model: Model): "exp" | "threshold" | "separation" {
  const parts = blockedParts(model);
  if (parts) return parts.ent.kind;
  return model.entropy.kind === "shannon" || model.entropy.kind === "softmax1"
    ? "exp"
    : "threshold";
}

/** The plan cache's key of a model at a shape on an adapter. */
export function tuneKey(
  adapterInfo: string,
  model: Model,
  M: number,
  D: number,
  B: number,
): string {
  const b = shapeBucket(M, D, B);
  return [
    adapterInfo,
    kernelChoices(model).family,
    entropyFamily(model),
    model.mask.kind,
    `M${b.M}`,
    `D${b.D}`,
    `B${b.B}`,
  ].join("|");
}

// ---------------------------------------------------------------------------------------------
// The plan cache

/** One tuned plan: the winning candidate at the shape it was measured at. */
export interface TunedEntry {
  label: string;
  choices: TunedChoices;
  ms: number;
  shape: { M: number; D: number; B: number };
  /** When it was tuned (ISO 8601). */
  at: string;
}

interface CacheFile {
  version: 1;
  entries: Record<string, TunedEntry>;
}

export const LOCAL_STORAGE_KEY = "hopc.plans";

/** The cache entry of a tune result. */
export function entryOf(result: {
  winner: { label: string; choices: TunedChoices; ms: number };
  shape: { M: number; D: number; B: number };
}): TunedEntry {
  return {
    label: result.winner.label,
    choices: result.winner.choices,
    ms: result.winner.ms,
    shape: result.shape,
    at: new Date().toISOString(),
  };
}

/** The plan cache file under Deno, or null where no cache folder is known. */
export function planCachePath(): string | null {
  const explicit = env("HOPC_PLAN_CACHE");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/hopc/plans.json`;
  const home = env("HOME") ?? env("USERPROFILE");
  return home ? `${home}/.cache/hopc/plans.json` : null;
}

function parseCache(text: string, where: string): CacheFile {
  try {
    const data = JSON.parse(text);
    if (
      data && typeof data === "object" && data.version === 1 && data.entries &&
      typeof data.entries === "object" && !Array.isArray(data.entries)
    ) {
      const entries: Record<string, TunedEntry> = {};
      for (const [k, e] of Object.entries(data.entries as Record<string, TunedEntry>)) {
        if (e && typeof e.label === "string" && e.choices && typeof e.choices === "object") {
          entries[k] = e;
        }
      }
      return { version: 1, entries };
    }
  } catch {
    // reported below
  }
  console.error(`hopc: warning: ignoring the corrupt plan cache ${where}`);
  return { version: 1, entries: {} };
}

async function readCache(): Promise<CacheFile> {
  const empty: CacheFile = { version: 1, entries: {} };
  const deno = denoRuntime();
  if (!deno) {
    const text = globalThis.localStorage?.getItem(LOCAL_STORAGE_KEY);
    return text == null ? empty : parseCache(text, `(localStorage ${LOCAL_STORAGE_KEY})`);
  }
  const path = planCachePath();
  if (!path) return empty;
  let text: string;
  try {
    text = await deno.readTextFile(path);
  } catch {
    return empty; // missing (or unreadable): no tuned plans
  }
  return parseCache(text, path);
}

/** The tuned entry under `key`, or null. */
export async function readTuned(key: string): Promise<TunedEntry | null> {
  return (await readCache()).entries[key] ?? null;
}

/**
 * Store `entry` under `key` (other entries kept). The file is replaced atomically (a temporary
 * file beside it, then a rename); its folder is created. Returns where it was written.
 */
export async function writeTuned(key: string, entry: TunedEntry): Promise<string> {
  const cache = await readCache();
  cache.entries[key] = entry;
  const text = JSON.stringify(cache, null, 2) + "\n";
  const deno = denoRuntime();
  if (!deno) {
    globalThis.localStorage.setItem(LOCAL_STORAGE_KEY, text);
    return `localStorage ${LOCAL_STORAGE_KEY}`;
  }
  const path = planCachePath();
  if (!path) throw new Error("no cache folder: set HOPC_PLAN_CACHE, XDG_CACHE_HOME or HOME");
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (slash > 0) await deno.mkdir(path.slice(0, slash), { recursive: true });
  const tmp = `${path}.${deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await deno.writeTextFile(tmp, text);
    await deno.rename(tmp, path);
  } catch (e) {
    await deno.remove(tmp).catch(() => {});
    throw e;
  }
  return path;
}

/** The tuned run choices of a model at a shape on an adapter (source "tuned"), or null. */
export async function lookupTuned(
  adapterInfo: string,
  model: Model,
  M: number,
  D: number,
  B: number,
): Promise<TunedChoices | null> {
  if (!blockedParts(model)) return null;
  const entry = await readTuned(tuneKey(adapterInfo, model, M, D, B));
  if (!entry) return null;
  const choices = entry.choices;
  return { ...choices, blocked: { ...choices.blocked, source: "tuned" } };
}
