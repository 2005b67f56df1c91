// Preloaded (`node --require`) into the Node-RED process that scripts/start.js runs.
// start.js holds the only write end of this process's stdin, so the end of stdin means start.js is gone, even
// by SIGKILL, which no handler in start.js could pass on. Node-RED then stops as on Ctrl-C: its own SIGTERM
// handler stops the flows and closes the context stores (saving the `file` store) before it exits.
const { isMainThread } = require('node:worker_threads');

// Node.js preloads this file into every worker thread too (they inherit --require), where stdin is a stream
// that has ended at once: only the main thread watches start.js, or the first script thread would stop
// Node-RED.
if (isMainThread) {
  const HANG_MS = 10000;

  // Output goes to start.js and the terminal; once they are gone a write fails (EPIPE, EIO), which must not end
  // the process before the context is saved.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

  let stopping = false;
  function stop() {
    if (stopping) return;
    stopping = true;
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), HANG_MS).unref();
  }
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
