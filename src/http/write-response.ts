// Writes a web Response on a Node response, for the /mcp fast lane's streamed answers (SSE): headers
// sent at once, each chunk written as it comes (waiting for `drain` when the socket is full), and
// the body cancelled when the agent goes away, so the stream's cleanup (keep-alive timer, its place
// under the stream caps) runs as it does behind Hono.
import type { ServerResponse } from 'node:http';

export async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  const body = response.body;
  if (!body) {
    res.end();
    return;
  }
  res.flushHeaders();
  const reader = body.getReader();
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  if (res.destroyed) return cancel();
  res.on('close', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await writable(res);
      if (res.destroyed) return cancel();
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    res.off('close', cancel);
  }
}

/** Resolves when the socket takes more (`drain`) or is gone (`close`), listening to neither after. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
