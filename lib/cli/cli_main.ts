/** The bertlab command's entry (bin/bertlab.js runs it under tsx): lib/cli/cli.ts's main, its exit code, its errors. */
import { main } from "./cli";

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: Error) => { process.stderr.write(`bertlab: ${err?.message ?? err}\n`); process.exitCode = 1; },
);
