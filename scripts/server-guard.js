#!/usr/bin/env node
// `node server-guard.js <program> [args...]`: runs a server that is not a Node.js program (mosquitto,
// redis-server) for scripts/start.js, and stops it (SIGTERM, SIGKILL after 5 s) once stdin ends. start.js holds
// the only write end of that stdin, so the server never outlives start.js, even when start.js dies of SIGKILL;
// node-red-guard.js does the same for Node-RED. Exits with the server's exit code.
const { spawn } = require('node:child_process');

const [program, ...args] = process.argv.slice(2);
const child = spawn(program, args, { stdio: ['ignore', 'inherit', 'inherit'] });
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
// Ctrl-C reaches the whole process group, the server too; this process waits for it to end.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop);

child.on('error', (err) => {
  console.error(`start: cannot run ${program}: ${err.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
