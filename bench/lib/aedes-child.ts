/**
 * aedes as a broker process of its own, for the side-by-side benchmark when Debian's mosquitto is not installed.
 * Started by bench/lib/broker.ts with an IPC channel: listens on 127.0.0.1:<argv[2] or any free port> and sends
 * `{ type: 'listening', port }` to its parent; exits when the parent says `stop` or goes away.
 */
import { startTestBroker } from '../../test/mqtt-broker';

async function main() {
  const broker = await startTestBroker('aedes', Number(process.argv[2] ?? 0));
  process.send?.({ type: 'listening', port: broker.port });
  const stop = () => {
    broker.stop().then(() => process.exit(0));
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
