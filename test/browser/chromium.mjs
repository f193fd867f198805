// What the project's browser tests share: Debian's Chromium and the flags it runs with
// (Playwright adds its own defaults), and the static file server of the test pages.
// run.mjs and hostcontrols.mjs import these.
import http from 'node:http';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
];

// serveFiles serves files ({urlPath: {body, type}}) on 127.0.0.1 at a random port, with
// no caching; anything else is 404 (the favicon 204). It returns the server and its origin.
export async function serveFiles(bodies) {
  const server = http.createServer((req, res) => {
    const f = bodies[new URL(req.url, 'http://x').pathname];
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': f.type, 'Cache-Control': 'no-store' }).end(f.body);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}
