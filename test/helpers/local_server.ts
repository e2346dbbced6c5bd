/**
 * Test HTTP servers stand in for figshare, PyPI and the Hugging Face hub. They listen on loopback
 * only (127.0.0.1) at a free port: nothing leaves the machine.
 */
import * as http from "http";
import { AddressInfo } from "net";

/** Starts `server` on 127.0.0.1 at a free port; returns its base URL, e.g. "http://127.0.0.1:40123". */
export async function listenLocal(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
