/**
 * aedes as a broker process of its own, for the side-by-side benchmark when Debian's mosquitto is not installed.
 * Started by bench/lib/broker.ts with an IPC channel: listens on 127.0.0.1:<argv[2] or any free port> and sends
 * `{ type: 'listening', port }` to its parent; exits when the parent says `stop` or goes away.
 */
import net from 'node:net';
import { Aedes } from 'aedes';

async function main() {
  const broker = await Aedes.createBroker();
  const server = net.createServer((s) => {
    s.on('error', () => {});
    broker.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  process.send?.({ type: 'listening', port });
  const stop = () => {
    server.close();
    broker.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'stop') stop();
  });
  process.on('disconnect', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
