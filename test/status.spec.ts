import assert from 'node:assert/strict';
import type { Node, NodeStatus } from 'node-red';
import { STATUS_INTERVAL_MS, StatusTracker } from '../nodes/lib/node-red';
import { delay, waitFor } from './toolkit';

/** A node that records what it was asked to show: StatusTracker's only contact with Node-RED is node.status. */
function recorder(): { node: Node; shown: NodeStatus[] } {
  const shown: NodeStatus[] = [];
  return { node: { status: (s: NodeStatus) => shown.push(s) } as unknown as Node, shown };
}

describe('StatusTracker', () => {
  it('shows a status once, not again while it stays the same', () => {
    const { node, shown } = recorder();
    const s = new StatusTracker(node);
    s.ok('ok');
    s.ok('ok');
    s.error('bad');
    s.error('bad');
    assert.deepEqual(
      shown.map((x) => x.text),
      ['ok', 'bad'],
    );
  });

  it('soon(): the first status at once, a burst after it as one update with the latest text', async () => {
    const { node, shown } = recorder();
    const s = new StatusTracker(node);
    let made = 0;
    const value = (n: number) => () => {
      made++;
      return { fill: 'green', shape: 'dot', text: `sent ${n}` } as NodeStatus;
    };
    s.soon(value(1));
    for (let i = 2; i <= 100; i++) s.soon(value(i));
    assert.deepEqual(
      shown.map((x) => x.text),
      ['sent 1'],
    );
    await waitFor(() => shown.length >= 2, STATUS_INTERVAL_MS + 1000, 'the update after the burst');
    await delay(100); // a quiet stretch: no third update may follow
    assert.deepEqual(
      shown.map((x) => x.text),
      ['sent 1', 'sent 100'],
    );
    assert.equal(made, 2, 'texts are made only for what is shown');
  });

  it('an error shows at once and drops a status waiting in soon()', async () => {
    const { node, shown } = recorder();
    const s = new StatusTracker(node);
    s.soon(() => ({ fill: 'green', shape: 'dot', text: 'sent 1' }));
    s.soon(() => ({ fill: 'green', shape: 'dot', text: 'sent 2' }));
    s.error('broker down');
    await delay(STATUS_INTERVAL_MS + 100); // a quiet stretch past the interval: the dropped status must not show
    assert.deepEqual(
      shown.map((x) => x.text),
      ['sent 1', 'broker down'],
    );
  });

  it('cancel() leaves no timer behind and shows nothing later', async () => {
    const { node, shown } = recorder();
    const s = new StatusTracker(node);
    s.soon(() => ({ text: 'a' }));
    s.soon(() => ({ text: 'b' }));
    s.cancel();
    await delay(STATUS_INTERVAL_MS + 100); // a quiet stretch past the interval: nothing may show
    assert.deepEqual(
      shown.map((x) => x.text),
      ['a'],
    );
  });
});
