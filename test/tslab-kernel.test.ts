// scripts/tslab-kernel.js: the kernel launcher makes a zeromq send or receive wait for its socket's
// pending bind, where zeromq 6 throws EBUSY (and tslab, which receives and replies while binding,
// then stops answering Jupyter).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "path";
import { ROOT } from "../lib/core/paths";

// zeromq as tslab loads it (it is tslab's dependency, not ours).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const zmq = require(
  require.resolve("zeromq", { paths: [path.join(ROOT, "node_modules", "tslab")] }),
) as typeof import("zeromq");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { waitForBinds } = require("../scripts/tslab-kernel.js") as { waitForBinds(z: typeof zmq): void };

test("tslab-kernel: without the guard, a send during a bind throws EBUSY (the failure it prevents)", async () => {
  const pub = new zmq.Publisher();
  const bound = pub.bind("tcp://127.0.0.1:*");
  assert.throws(
    () => pub.send("status"),
    (e: NodeJS.ErrnoException) => e.code === "EBUSY" && /blocked by a bind/.test(e.message),
  );
  await bound;
  pub.close();
});

test("tslab-kernel: with the guard, send and receive wait for the bind and then work", async () => {
  waitForBinds(zmq);
  const pub = new zmq.Publisher();
  const router = new zmq.Router();
  const pubBound = pub.bind("tcp://127.0.0.1:*");
  await pub.send("status"); // during the bind: waits, no EBUSY
  const routerBound = router.bind("tcp://127.0.0.1:*");
  const received = router.receive(); // during the bind: waits, then receives
  await Promise.all([pubBound, routerBound]);
  const dealer = new zmq.Dealer();
  dealer.connect(router.lastEndpoint!);
  await dealer.send("kernel_info_request");
  const [, body] = await received;
  assert.equal(body.toString(), "kernel_info_request");
  for (const s of [pub, router, dealer]) s.close();
});
