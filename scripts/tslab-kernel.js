#!/usr/bin/env node
// Starts the tslab kernel with the project root as its working directory, so that notebooks
// import the library as "./lib/..." (tslab compiles with rootDir = cwd and refuses files outside it).
const path = require("path");
const root = path.resolve(__dirname, "..");
const tslabDir = path.join(root, "node_modules", "tslab");

/**
 * tslab 1.0.22 starts receiving on its zeromq sockets before binding them, and binds all five at
 * once. zeromq 6 throws EBUSY ("Socket is blocked by a bind or unbind operation") from a send or
 * receive on a socket whose bind has not finished: when the first kernel_info request arrives while
 * the iopub socket is still binding, the reply throws and the kernel never answers (Jupyter: "Kernel
 * didn't respond in 60 seconds"; rare, and a stress run did not reproduce it). Here a send or receive
 * waits for its socket's pending bind instead; test/tslab-kernel.test.ts shows both the EBUSY and the wait.
 *
 * tslab also sends without waiting for the previous send, and zeromq 6 allows one send in progress per socket
 * ("Socket is busy writing"): a send that cannot complete at once (a peer slow to read) makes the next one throw,
 * an unhandled rejection that tslab reports as the running cell's error with the message lost (a table and a chart
 * displayed right after a long training cell failed this way). Here each socket's sends go out one after another.
 */
function waitForBinds(zmq) {
  const proto = zmq.Socket.prototype;
  if (proto.bertlabWaitsForBinds) return;
  const { bind, send, receive } = proto;
  // socket → its last bind or send, settled or not, which the next send or receive waits for. Receives are not
  // queued: one waiting for a message must not hold back the sends.
  const turn = new WeakMap();
  const after = (socket, op) => {
    const before = turn.get(socket);
    return before ? before.then(op) : op();
  };
  const queue = (socket, op) => {
    const settled = Promise.resolve(op).then(() => {}, () => {});
    turn.set(socket, settled);
    settled.then(() => turn.get(socket) === settled && turn.delete(socket));
    return op;
  };
  // The native methods are read-only (plain assignment silently does nothing) and `bind` cannot be
  // redefined on Socket itself, so it is wrapped on each socket class (Publisher, Router, Reply, …).
  const replace = (target, name, value) => Object.defineProperty(target, name, { value, configurable: true });
  const queuedBind = function (address) {
    return queue(this, bind.call(this, address));
  };
  for (const C of Object.values(zmq)) {
    if (typeof C === "function" && C.prototype instanceof zmq.Socket) replace(C.prototype, "bind", queuedBind);
  }
  replace(proto, "send", function (...args) {
    return queue(this, after(this, () => send.apply(this, args)));
  });
  replace(proto, "receive", function (...args) {
    return after(this, () => receive.apply(this, args));
  });
  replace(proto, "bertlabWaitsForBinds", true);
}

module.exports = { waitForBinds };

if (require.main === module) {
  process.chdir(root);
  waitForBinds(require(require.resolve("zeromq", { paths: [tslabDir] })));
  require(path.join(tslabDir, "dist", "main.js")).main();
}
