// lib/graph/tfgraph.ts: the GraphDef/SavedModel writer, read back with tfjs-node's own parser of TensorFlow's
// protocol buffers (dist/proto/api_pb.js, which tfjs-node uses to read SavedModels), and run on native.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend, nativePackageDir } from "../lib/runtime/backend";
import { GraphBuilder, dtype } from "../lib/graph/tfgraph";
import { tmpDir } from "./helpers/tmp";

const pb: any = require(path.join(nativePackageDir()!, "dist", "proto", "api_pb"));

before(async () => {
  await initBackend();
});

/** y = x + c, with a -1 (unknown) dimension, an int list attribute and a float constant. */
function tinyGraph(): GraphBuilder {
  const g = new GraphBuilder();
  const x = g.placeholder("x", "float32", [null, 3]);
  const c = g.constant([1, 2, 3], [3], "float32", "c");
  const y = g.op("AddV2", [x, c], { T: dtype("float32") }, "sum");
  g.op("Identity", [y], { T: dtype("float32") }, "y");
  return g;
}

test("tfgraph: the SavedModel parses with TensorFlow's message definitions, field for field", () => {
  const g = tinyGraph();
  const m = pb.SavedModel.deserializeBinary(g.savedModel());
  assert.equal(m.getSavedModelSchemaVersion(), 1);
  const mg = m.getMetaGraphsList()[0];
  assert.deepEqual(mg.getMetaInfoDef().getTagsList(), ["serve"]);
  const nodes = mg.getGraphDef().getNodeList();
  assert.deepEqual(nodes.map((n: any) => [n.getName(), n.getOp(), n.getInputList()]), [
    ["x", "Placeholder", []],
    ["c", "Const", []],
    ["sum", "AddV2", ["x", "c"]],
    ["y", "Identity", ["sum"]],
  ]);
  const shape = nodes[0].getAttrMap().get("shape").getShape().getDimList().map((d: any) => d.getSize());
  assert.deepEqual(shape, [-1, 3], "an unknown dimension is -1 (a 10-byte varint)");
  const tensor = nodes[1].getAttrMap().get("value").getTensor();
  assert.equal(tensor.getDtype(), pb.DataType.DT_FLOAT);
  assert.deepEqual(Array.from(new Float32Array(tensor.getTensorContent_asU8().slice().buffer)), [1, 2, 3]);
  assert.equal(nodes[2].getAttrMap().get("T").getType(), pb.DataType.DT_FLOAT);
  assert.equal(mg.getSignatureDefMap().get("serving_default").getMethodName(), "tensorflow/serving/predict");
});

test("tfgraph: bool, int, float, string and int-list attributes round-trip", () => {
  const g = new GraphBuilder();
  g.op("NoOp", [], { b: { b: true }, i: { i: -5 }, f: { f: 0.25 }, s: { s: "héllo" }, l: { ints: [2, 0, 1] } }, "n");
  const node = pb.GraphDef.deserializeBinary(g.graphDef()).getNodeList()[0];
  const a = node.getAttrMap();
  assert.equal(a.get("b").getB(), true);
  assert.equal(a.get("i").getI(), -5);
  assert.equal(a.get("f").getF(), 0.25);
  assert.equal(Buffer.from(a.get("s").getS_asU8()).toString("utf8"), "héllo");
  assert.deepEqual(a.get("l").getList().getIList(), [2, 0, 1]);
});

test("tfgraph: an input no earlier node makes, or a name used twice, is refused", () => {
  const g = new GraphBuilder();
  g.placeholder("x", "float32");
  assert.throws(
    () => g.op("Neg", ["nope"], { T: dtype("float32") }, "y"),
    /node "y" \(Neg\) reads "nope", which no earlier node makes/,
  );
  assert.throws(() => g.placeholder("x", "float32"), /node name "x" is used twice/);
  assert.throws(() => g.constant([1, 2], [3]), /constant of shape \[3\] needs 3 values, got 2/);
});

test("tfgraph: TensorFlow loads and runs the graph (native backend)", {
  skip: tf.getBackend() !== "tensorflow" && "needs native TensorFlow",
}, () => {
  const dir = tmpDir("tfgraph-");
  fs.writeFileSync(path.join(dir, "saved_model.pb"), tinyGraph().savedModel());

  const backend = tf.backend() as any;
  const id = backend.loadSavedModelMetaGraph(dir, "serve");
  const x = tf.tensor2d([[10, 20, 30], [40, 50, 60]]);
  const before = tf.memory().numTensors;
  const [y] = backend.runSavedModel(id, [x], [{ name: "x:0", tfDtype: "DT_FLOAT" }], ["y:0"]);
  assert.deepEqual(y.arraySync(), [[11, 22, 33], [41, 52, 63]]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  backend.deleteSavedModel(id);
  x.dispose();
});
