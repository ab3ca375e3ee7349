// A loopback proxy that adds `Authorization: Bearer <token>` to every request, for WebDAV clients
// that only speak Basic or Digest (litmus, cadaver). Bodies stream through both ways.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BearerProxy {
  url: string;
  /** Where requests go; settable after start so the unit URL can be the proxy's own. */
  target: string;
  close(): Promise<void>;
}

export async function startBearerProxy(token: string, target = ''): Promise<BearerProxy> {
  const server = http.createServer((req, res) => {
    const upstream = new URL(proxy.target);
    const headers = { ...req.headers, authorization: `Bearer ${token}`, host: upstream.host };
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const proxy: BearerProxy = {
    url: `http://127.0.0.1:${port}`,
    target,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return proxy;
}
