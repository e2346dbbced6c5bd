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
// before any test installs the guard
const nativeSend = (zmq.Socket.prototype as unknown as { send(this: unknown, m: string): Promise<void> }).send;

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

// A dealer whose peer is not there yet: with a send queue of 1, its second send waits and a third finds one in progress.
let peers = 0;
function slowPeer(): { dealer: import("zeromq").Dealer; endpoint: string } {
  const dealer = new zmq.Dealer({ sendHighWaterMark: 1, linger: 0 });
  const endpoint = `inproc://bertlab-slow-peer-${++peers}`;
  dealer.connect(endpoint);
  return { dealer, endpoint };
}

test("tslab-kernel: zeromq allows one send in progress per socket (the failure the guard prevents)", async () => {
  const { dealer } = slowPeer();
  const sends = [0, 1, 2].map((i) => Promise.resolve().then(() => nativeSend.call(dealer, `m${i}`)));
  const outcomes = await Promise.allSettled(sends.slice(2));
  assert.equal(outcomes[0].status, "rejected");
  assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /busy writing/);
  dealer.close();
  await Promise.allSettled(sends);
});

test("tslab-kernel: with the guard, sends go out one after another, in order", async () => {
  waitForBinds(zmq);
  const { dealer, endpoint } = slowPeer();
  const sent = [0, 1, 2, 3, 4].map((i) => dealer.send(`m${i}`)); // no await between them: tslab's pattern
  const router = new zmq.Router();
  await router.bind(endpoint);
  await Promise.all(sent);
  const got: string[] = [];
  for (let i = 0; i < 5; i++) got.push((await router.receive())[1].toString());
  assert.deepEqual(got, ["m0", "m1", "m2", "m3", "m4"]);
  dealer.close();
  router.close();
});
