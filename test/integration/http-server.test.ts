import { createServer, type Server } from 'node:net';
import express from 'express';
import { closeServer, listen, PortUnavailableError } from '../../src/http/http-server';
import { createMetrics } from '../../src/metrics';
import { eventually } from '../support/eventually';
import { freePort } from '../support/free-port';

describe('the HTTP server', () => {
  it('fails to start naming the port when something already listens there', async () => {
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, resolve));
    try {
      const starting = listen(express(), port, createMetrics());
      await expect(starting).rejects.toThrow(PortUnavailableError);
      await expect(starting).rejects.toThrow(`port ${port} is already in use`);
    } finally {
      squatter.close();
    }
  });

  it('counts its open connections as the platform names them (active_connections)', async () => {
    const metrics = createMetrics();
    const app = express();
    app.get('/', (_req, res) => {
      res.send('ok');
    });
    const server = await listen(app, 0, metrics);
    const { port } = server.address() as { port: number };
    const open = async () => (await metrics.activeConnections.get()).values[0]?.value ?? 0;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'keep-alive' } });
      await response.text();
      expect(await open()).toBe(1);
    } finally {
      await closeServer(server);
    }
    await eventually('the connection counted closed', async () => ((await open()) === 0 ? true : undefined), 5_000);
  });
});
