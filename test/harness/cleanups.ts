// Running a test's cleanups: every one, even after one fails (a container
// that could not be removed must not keep the next one, or a fake root,
// alive), last registered first; the failures are reported together after.

export async function runCleanups(cleanups: Array<() => unknown>): Promise<void> {
  const failures: string[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (failures.length > 0) throw new Error(`cleaning up after the test: ${failures.join("; ")}`);
}
