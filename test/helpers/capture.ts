/**
 * What a function prints, for tests of the command line: stdout (and stderr) captured while `fn` runs, restored
 * after it, whatever it throws.
 *
 *   const { value, stdout } = await captureOutput(() => main(["quiz", "--check", file]));   // value: the exit code
 */
export async function captureOutput<T>(
  fn: () => T | Promise<T>,
): Promise<{ value: T; stdout: string; stderr: string }> {
  await new Promise((resolve) => setImmediate(resolve)); // let earlier writes land before capturing
  const out: string[] = [], err: string[] = [];
  const streams = [[process.stdout, out], [process.stderr, err]] as const;
  const writes = streams.map(([s]) => s.write.bind(s));
  for (const [s, sink] of streams) {
    (s as unknown as { write: unknown }).write = (chunk: string) => {
      sink.push(String(chunk));
      return true;
    };
  }
  try {
    return { value: await fn(), stdout: out.join(""), stderr: err.join("") };
  } finally {
    streams.forEach(([s], i) => ((s as unknown as { write: unknown }).write = writes[i]));
  }
}
