/** The bertlab command's entry (bin/bertlab.js runs it under tsx): lib/cli/cli.ts's main, its exit code, its errors. */
import { main } from "./cli";

// `bertlab quiz | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err: Error) => {
  process.stderr.write(`bertlab: ${err?.message ?? err}\n`);
  process.exitCode = 1;
});
