// The one door to Deno's APIs on the library path (mod.ts and everything it imports). A browser has
// no `Deno` global, so code that may run there asks `denoRuntime()` and takes its browser branch
// when it gets undefined; `typeof` of an undeclared global is safe where a bare `Deno.x` would throw
// a ReferenceError. tests/library_test.ts walks mod.ts's import graph and fails on any `Deno.`
// outside the command line's modules, so this accessor is the only way in.

/** Deno's namespace when running under Deno, else undefined (a browser, a bundle in Node). */
export function denoRuntime(): typeof Deno | undefined {
  return typeof Deno !== "undefined" ? Deno : undefined;
}

/** An environment variable under Deno (undefined in a browser or without --allow-env). */
export function envVar(name: string): string | undefined {
  const deno = denoRuntime();
  if (!deno) return undefined;
  try {
    return deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env
  }
}
